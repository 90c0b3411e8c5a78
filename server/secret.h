/*
 * secret.h — how the server makes and keeps credentials: random 256-bit
 * secrets (session cookies, API tokens, one-time login links) that are
 * stored only as their SHA-256, and passwords stored only as argon2id
 * hashes in the PHC string form, which records the parameters each hash
 * was made with ($argon2id$v=19$m=19456,t=2,p=1$salt$hash).
 *
 * What it is not: accounts or sessions (accounts.c decides what a secret
 * is for and when it expires) or the token of single-user mode (auth.c).
 *
 * Threads: any; no shared state. secret_password_hash and _verify take
 * ~45 ms of one core each with the default parameters (measured on the
 * 2-core test machine), so callers do them once per login, never per
 * request.
 */
#ifndef TB_SERVER_SECRET_H
#define TB_SERVER_SECRET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define SECRET_HEX 65      /* 64 hex digits + NUL: a secret or its SHA-256 */
#define SECRET_PHC_MAX 160 /* an argon2id PHC string with our salt and hash sizes */
#define SECRET_PASSWORD_MIN 8
#define SECRET_PASSWORD_MAX 1024

/*
 * argon2id cost. The default is OWASP's first recommendation (19 MiB,
 * two passes, one lane): ~45 ms a hash here, so 60 logins take under 3 s
 * on this machine while an offline guesser pays 19 MiB per guess.
 */
struct secret_cost {
	uint32_t m_kib; /* memory in KiB */
	uint32_t t;     /* passes */
	uint32_t p;     /* lanes */
};
extern const struct secret_cost secret_default_cost;

/* 32 random bytes as 64 hex digits; -1 when the system has no randomness. */
int secret_new(char out[SECRET_HEX]);

/* SHA-256 of a secret's text, as 64 hex digits: what the store keeps. */
void secret_hash(const char *secret, size_t len, char out[SECRET_HEX]);

/*
 * Hash a password with argon2id at `cost` and a fresh 16-byte salt into a
 * PHC string. -1 with a message (too short/long, no randomness, argon2
 * refused).
 */
int secret_password_hash(const char *password, const struct secret_cost *cost, char phc[SECRET_PHC_MAX], char *err,
			 size_t errlen);

/* True when `password` matches the PHC string (with the parameters it records). */
bool secret_password_verify(const char *phc, const char *password);

/* The parameters a PHC string records; false when it is not an argon2id string. */
bool secret_password_cost(const char *phc, struct secret_cost *out);

/*
 * A login with a wrong name must cost what one with a right name costs, or
 * the time of the answer tells which names exist: verify against this
 * hash of a random password made at the default cost.
 */
void secret_password_dummy_verify(const char *password);

#endif
