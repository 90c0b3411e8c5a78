/*
 * secret.c — random secrets, their SHA-256, argon2id passwords (see
 * secret.h). argon2 is Debian's libargon2 (the reference implementation).
 *
 * Threads: any. The dummy hash is made once under pthread_once.
 */
#include "secret.h"

#include <argon2.h>
#include <openssl/evp.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "util.h"

#define SALT_BYTES 16
#define HASH_BYTES 32

const struct secret_cost secret_default_cost = {.m_kib = 19456, .t = 2, .p = 1};

static const char hex_digits[] = "0123456789abcdef";

static void to_hex(const unsigned char *raw, size_t n, char *out)
{
	for (size_t i = 0; i < n; i++) {
		out[2 * i] = hex_digits[raw[i] >> 4];
		out[2 * i + 1] = hex_digits[raw[i] & 15];
	}
	out[2 * n] = '\0';
}

int secret_new(char out[SECRET_HEX])
{
	return srv_random_hex(out, 32);
}

void secret_hash(const char *secret, size_t len, char out[SECRET_HEX])
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned mdlen = 0;
	if (!EVP_Digest(secret, len, md, &mdlen, EVP_sha256(), NULL) || mdlen != 32) {
		/* OpenSSL cannot hash: no stored hash may ever match this one. */
		memset(out, 'x', SECRET_HEX - 1);
		out[SECRET_HEX - 1] = '\0';
		return;
	}
	to_hex(md, 32, out);
}

int secret_password_hash(const char *password, const struct secret_cost *cost, char phc[SECRET_PHC_MAX], char *err,
			 size_t errlen)
{
	size_t n = strlen(password);
	if (n < SECRET_PASSWORD_MIN || n > SECRET_PASSWORD_MAX) {
		snprintf(err, errlen, "a password is %d to %d characters", SECRET_PASSWORD_MIN, SECRET_PASSWORD_MAX);
		return -1;
	}
	unsigned char salt[SALT_BYTES];
	if (srv_random_bytes(salt, sizeof salt) < 0) {
		snprintf(err, errlen, "the system has no randomness to give");
		return -1;
	}
	int rc = argon2id_hash_encoded(cost->t, cost->m_kib, cost->p, password, n, salt, sizeof salt, HASH_BYTES, phc,
				       SECRET_PHC_MAX);
	if (rc != ARGON2_OK) {
		snprintf(err, errlen, "argon2id: %s", argon2_error_message(rc));
		return -1;
	}
	return 0;
}

bool secret_password_verify(const char *phc, const char *password)
{
	if (!phc || strncmp(phc, "$argon2id$", 10))
		return false;
	size_t n = strlen(password);
	if (n > SECRET_PASSWORD_MAX)
		return false;
	return argon2id_verify(phc, password, n) == ARGON2_OK;
}

bool secret_password_cost(const char *phc, struct secret_cost *out)
{
	unsigned v, m, t, p;
	if (!phc || sscanf(phc, "$argon2id$v=%u$m=%u,t=%u,p=%u$", &v, &m, &t, &p) != 4)
		return false;
	*out = (struct secret_cost){.m_kib = m, .t = t, .p = p};
	return true;
}

static char dummy_phc[SECRET_PHC_MAX];
static pthread_once_t dummy_once = PTHREAD_ONCE_INIT;

static void make_dummy(void)
{
	char pw[SECRET_HEX], err[128];
	if (secret_new(pw) < 0 || secret_password_hash(pw, &secret_default_cost, dummy_phc, err, sizeof err) < 0)
		dummy_phc[0] = '\0';
}

void secret_password_dummy_verify(const char *password)
{
	pthread_once(&dummy_once, make_dummy);
	if (dummy_phc[0])
		(void)secret_password_verify(dummy_phc, password);
}
