/*
 * routes_static.c — the page: static files from static/ with MIME types and
 * ETag revalidation (304), the ?token= first visit that turns into a
 * cookie, and the small login form: the token in single-user mode, name
 * and password (or the button of a one-time link) with accounts.
 *
 * What it is not: the page itself (web/ builds static/; static/index.html
 * is its entry). Files are public like Jupyter's static files; the entry
 * page needs the token and shows the login form without it.
 *
 * Threads: libmicrohttpd's polling thread.
 */
#include <ctype.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "app.h"
#include "auth.h"
#include "routes.h"
#include "util.h"

static const struct {
	const char *ext;
	const char *type;
} mime_types[] = {
	{".html", "text/html; charset=utf-8"},
	{".js", "text/javascript; charset=utf-8"},
	{".mjs", "text/javascript; charset=utf-8"},
	{".css", "text/css; charset=utf-8"},
	{".json", "application/json"},
	{".map", "application/json"},
	{".webmanifest", "application/manifest+json"},
	{".svg", "image/svg+xml"},
	{".png", "image/png"},
	{".jpg", "image/jpeg"},
	{".jpeg", "image/jpeg"},
	{".gif", "image/gif"},
	{".webp", "image/webp"},
	{".ico", "image/x-icon"},
	{".woff", "font/woff"},
	{".woff2", "font/woff2"},
	{".ttf", "font/ttf"},
	{".wasm", "application/wasm"},
	{".txt", "text/plain; charset=utf-8"},
	{".md", "text/markdown; charset=utf-8"},
	{".yaml", "text/yaml; charset=utf-8"},
	{".csv", "text/csv; charset=utf-8"},
	{".ipynb", "application/x-ipynb+json"},
};

static const char *mime_for(const char *path)
{
	const char *dot = strrchr(path, '.');
	if (dot && !strchr(dot, '/'))
		for (size_t i = 0; i < sizeof mime_types / sizeof mime_types[0]; i++)
			if (!strcasecmp(dot, mime_types[i].ext))
				return mime_types[i].type;
	return "application/octet-stream";
}

static void html_escape(struct srv_buf *b, const char *s)
{
	for (; *s; s++) {
		switch (*s) {
		case '<': srv_buf_puts(b, "&lt;"); break;
		case '>': srv_buf_puts(b, "&gt;"); break;
		case '&': srv_buf_puts(b, "&amp;"); break;
		case '"': srv_buf_puts(b, "&quot;"); break;
		default: srv_buf_append(b, s, 1);
		}
	}
}

/*
 * Accounts mode: a one-time link opened in the browser (GET login?link=…)
 * shows one button that posts it. Opening the link must not use it up:
 * mail scanners and chat previews fetch links before the student does.
 * The page names whose link it is ("Log in as alice": an instructor trying
 * a student's link, or a shared computer, shows who they would become);
 * looking leaves the link unused. A link that would log nobody in says so
 * at once and counts as a wrong one for the address, as posting it would;
 * while the address is throttled nothing is looked up. Otherwise (and
 * after a dead link) the name and password fields.
 */
static void account_fields(struct http_req *r, struct srv_buf *b)
{
	const char *link = http_query(r, "link");
	if (link && *link && strlen(link) < 200) {
		struct store_user u;
		int rc = http_login_wait(r) ? ACCT_EIO : acct_link_peek(r->app->store, link, &u);
		if (rc == ACCT_DENIED) {
			http_login_outcome(r, false);
			srv_buf_puts(b, "<p class=\"err\">" ACCT_LINK_DENIED_MESSAGE "</p>");
		} else {
			srv_buf_puts(b, "<p>This is ");
			if (rc == ACCT_OK) {
				srv_buf_puts(b, "the personal login link of <strong>");
				html_escape(b, u.name);
				srv_buf_puts(b, "</strong>");
			} else {
				srv_buf_puts(b, "your personal login link");
			}
			srv_buf_puts(b, ". It works once.</p><input type=\"hidden\" name=\"link\" value=\"");
			html_escape(b, link);
			srv_buf_puts(b, "\"><button type=\"submit\">Log in");
			if (rc == ACCT_OK) {
				srv_buf_puts(b, " as ");
				html_escape(b, u.name);
			}
			srv_buf_puts(b, "</button>");
			return;
		}
	}
	srv_buf_puts(b, "<label for=\"name\">Name</label><input id=\"name\" name=\"name\" autocomplete=\"username\" "
			"autocapitalize=\"none\" autofocus required><label for=\"password\">Password</label>"
			"<input id=\"password\" name=\"password\" type=\"password\" autocomplete=\"current-password\" "
			"required><button type=\"submit\">Log in</button><p>No password yet? Open the login link your "
			"instructor gave you.</p>");
}

/* The login form; wait_s > 0 makes it the throttle's 429 with Retry-After. */
static enum MHD_Result login_page_after(struct http_req *r, unsigned status, const char *message, int wait_s)
{
	struct srv_buf b = {0};
	srv_buf_puts(&b, "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
			 "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
			 "<title>trainbook: log in</title>"
			 /* relative, like every URL of the page: it works under a --base-url prefix */
			 "<link rel=\"icon\" href=\"favicon.svg\" type=\"image/svg+xml\">");
	/* The policy allows no inline style but one carrying this answer's nonce. */
	srv_buf_printf(&b, "<style nonce=\"%s\">", http_csp_nonce(r));
	srv_buf_puts(&b, ""
			 "body{font:16px system-ui,sans-serif;background:#f5f5f4;color:#1c1917;"
			 "display:flex;min-height:90vh;align-items:center;justify-content:center}"
			 "form{background:#fff;padding:2rem;border-radius:8px;box-shadow:0 1px 4px #0002;"
			 "max-width:28rem}input{font:inherit;width:100%;box-sizing:border-box;padding:.5rem;"
			 "margin:.5rem 0 1rem}button{font:inherit;padding:.5rem 1.2rem}"
			 "p.err{color:#b91c1c}code{background:#f5f5f4;padding:0 .2rem}</style></head><body>"
			 "<form method=\"post\" action=\"");
	html_escape(&b, r->app->cfg.base_url);
	srv_buf_puts(&b, "login\"><h1>trainbook</h1>");
	if (message) {
		srv_buf_puts(&b, "<p class=\"err\">");
		html_escape(&b, message);
		srv_buf_puts(&b, "</p>");
	}
	if (r->app->cfg.accounts)
		account_fields(r, &b);
	else
		srv_buf_puts(&b, "<p>Paste the token that <code>trainbook serve</code> printed when it started "
				 "(the part after <code>?token=</code>).</p><label for=\"token\">Token</label>"
				 "<input id=\"token\" name=\"token\" type=\"password\" autocomplete=\"current-password\" "
				 "autofocus required><button type=\"submit\">Log in</button>");
	srv_buf_puts(&b, "</form></body></html>\n");
	size_t len = b.len;
	struct MHD_Response *resp = MHD_create_response_from_buffer(len, srv_buf_steal(&b), MHD_RESPMEM_MUST_FREE);
	MHD_add_response_header(resp, "Content-Type", "text/html; charset=utf-8");
	MHD_add_response_header(resp, "Cache-Control", "no-store");
	if (wait_s > 0) {
		char after[16];
		snprintf(after, sizeof after, "%d", wait_s);
		MHD_add_response_header(resp, "Retry-After", after);
	}
	return http_send(r, status, resp);
}

static enum MHD_Result login_page(struct http_req *r, unsigned status, const char *message)
{
	return login_page_after(r, status, message, 0);
}

static enum MHD_Result login_throttled_what(struct http_req *r, int wait_s, const char *what)
{
	char msg[300];
	snprintf(msg, sizeof msg, "%s. Try again in %d s.", what, wait_s);
	if (msg[0] >= 'a' && msg[0] <= 'z')
		msg[0] = (char)(msg[0] - 'a' + 'A');
	return login_page_after(r, 429, msg, wait_s);
}

static enum MHD_Result login_throttled(struct http_req *r, int wait_s)
{
	return login_throttled_what(r, wait_s, "Too many wrong tokens from your address");
}

/* Set-Cookie `value` (NULL: clear it) and send the browser to `to`. */
static enum MHD_Result redirect_with_cookie(struct http_req *r, unsigned status, const char *to, const char *value)
{
	struct MHD_Response *resp = MHD_create_response_from_buffer(0, "", MHD_RESPMEM_PERSISTENT);
	route_set_cookie(r, resp, value);
	MHD_add_response_header(resp, "Location", to);
	MHD_add_response_header(resp, "Cache-Control", "no-store");
	return http_send(r, status, resp);
}

/*
 * Open a file of the static root for reading: the kernel keeps the walk
 * inside the root (srv_open_beneath), so a link out of it, or one swapped
 * in after a check, cannot be followed. -1 when there is no such file.
 */
static int open_static(struct http_req *r, const char *rel, struct stat *st)
{
	const char *root = r->app->cfg.static_dir;
	if (!root[0] || !srv_path_plain(rel))
		return -1;
	return srv_open_regular_beneath(root, rel, st);
}

/*
 * A page path a redirect may keep: a static path made only of letters,
 * digits and "-._~/" — nothing a browser could read as another host.
 */
static bool redirect_path_ok(const char *rel)
{
	if (!*rel)
		return true;
	if (!srv_path_plain(rel))
		return false;
	for (const char *c = rel; *c; c++)
		if (!isalnum((unsigned char)*c) && !strchr("-._~/", *c))
			return false;
	return true;
}

static enum MHD_Result serve_file(struct http_req *r, const char *rel)
{
	struct stat st;
	int fd = open_static(r, rel, &st);
	if (fd < 0)
		return http_error(r, 404, "not_found", "no such file: %s", rel);
	char etag[96];
	snprintf(etag, sizeof etag, "\"%llx-%llx-%llx\"", (unsigned long long)st.st_mtim.tv_sec * 1000000000ull + (unsigned long long)st.st_mtim.tv_nsec,
		 (unsigned long long)st.st_size, (unsigned long long)st.st_ino);
	const char *inm = http_header(r, "If-None-Match");
	struct MHD_Response *resp;
	unsigned status = 200;
	if (inm && !strcmp(inm, etag)) {
		close(fd);
		resp = MHD_create_response_from_buffer(0, "", MHD_RESPMEM_PERSISTENT);
		status = 304;
	} else {
		/* libmicrohttpd closes fd when the response is destroyed. */
		resp = MHD_create_response_from_fd((uint64_t)st.st_size, fd);
		if (!resp) {
			close(fd);
			return http_error(r, 500, "internal", "cannot send the file");
		}
		MHD_add_response_header(resp, "Content-Type", mime_for(rel));
	}
	MHD_add_response_header(resp, "ETag", etag);
	/* Revalidate every time: cheap (304) and never a stale page after `make`. */
	MHD_add_response_header(resp, "Cache-Control", "no-cache");
	return http_send(r, status, resp);
}

#define NONCE_MARK "TRAINBOOK_CSP_NONCE"

/*
 * The entry page, with this answer's CSP nonce written where index.html
 * says TRAINBOOK_CSP_NONCE (the page hands it to CodeMirror, whose
 * <style> element needs it). Never cached: the nonce is new every time.
 */
static enum MHD_Result serve_entry(struct http_req *r)
{
	struct stat st;
	int fd = open_static(r, "index.html", &st);
	char *html;
	size_t len;
	if (fd < 0)
		return http_error(r, 404, "not_found", "no such file: index.html");
	int rc = srv_read_fd(fd, 1u << 20, &html, &len);
	close(fd);
	if (rc < 0)
		return http_error(r, 500, "internal", "cannot read index.html");
	const char *nonce = http_csp_nonce(r);
	struct srv_buf b = {0};
	const char *p = html, *mark;
	while ((mark = strstr(p, NONCE_MARK))) {
		srv_buf_append(&b, p, (size_t)(mark - p));
		srv_buf_puts(&b, nonce);
		p = mark + strlen(NONCE_MARK);
	}
	srv_buf_puts(&b, p);
	free(html);
	size_t out = b.len;
	struct MHD_Response *resp = MHD_create_response_from_buffer(out, srv_buf_steal(&b), MHD_RESPMEM_MUST_FREE);
	MHD_add_response_header(resp, "Content-Type", "text/html; charset=utf-8");
	MHD_add_response_header(resp, "Cache-Control", "no-store");
	return http_send(r, 200, resp);
}

static enum MHD_Result no_page(struct http_req *r)
{
	static const char page[] =
		"<!doctype html><meta charset=\"utf-8\"><title>trainbook</title>"
		"<p>The trainbook server is running, but the page is not built "
		"(no <code>static/index.html</code>; run <code>make</code> or pass <code>--static DIR</code>). "
		"The API answers under <code>api/</code>, see docs/api.md.</p>\n";
	return http_raw(r, 200, "text/html; charset=utf-8", page, sizeof page - 1);
}

enum MHD_Result route_page(struct http_req *r)
{
	const char *path = r->path;
	if (!strncmp(path, "/api/", 5))
		return http_error(r, 404, "not_found", "no such route: %s", path);
	/* Accounts mode has no shared token: ?token= means nothing there. */
	const char *token = r->app->cfg.accounts ? NULL : http_query(r, "token");
	if (token) {
		int wait = http_login_wait(r);
		if (wait)
			return login_throttled(r, wait);
		bool ok = auth_token_check(&r->app->auth, NULL, token) == AUTH_TOKEN_OK;
		http_login_outcome(r, ok);
		if (!ok)
			return login_page(r, 401, "That token is not right.");
		/* Trade the URL token for a cookie and drop it from the address bar,
		 * staying on this page path only when it is a plain one: anything
		 * else ("//evil.example/", "/\\evil.example/") goes to the app's root,
		 * so the redirect never leaves this origin. */
		char to[PATH_MAX];
		snprintf(to, sizeof to, "%s%s", r->app->cfg.base_url, redirect_path_ok(path + 1) ? path + 1 : "");
		return redirect_with_cookie(r, 302, to, r->app->auth.session);
	}
	if (!strcmp(path, "/login"))
		return login_page(r, 200, NULL);
	bool entry = !strcmp(path, "/") || !strcmp(path, "/index.html");
	if (!entry)
		return serve_file(r, path + 1);
	if (!r->authorized)
		return login_page(r, 200, NULL);
	char index[PATH_MAX + 16];
	snprintf(index, sizeof index, "%s/index.html", r->app->cfg.static_dir);
	if (!r->app->cfg.static_dir[0] || access(index, R_OK) < 0)
		return no_page(r);
	return serve_entry(r);
}

static int hexval(int c)
{
	return isdigit(c) ? c - '0' : isxdigit(c) ? (tolower(c) - 'a' + 10) : -1;
}

/* The value of `name` in an application/x-www-form-urlencoded body, decoded. */
static bool form_value(const char *body, size_t len, const char *name, char *out, size_t outlen)
{
	size_t nl = strlen(name);
	const char *p = body, *end = body + len;
	while (p < end) {
		const char *amp = memchr(p, '&', (size_t)(end - p));
		const char *stop = amp ? amp : end;
		if ((size_t)(stop - p) > nl && !strncmp(p, name, nl) && p[nl] == '=') {
			size_t n = 0;
			for (const char *q = p + nl + 1; q < stop; q++) {
				int c = *q;
				if (c == '+') {
					c = ' ';
				} else if (c == '%' && q + 2 < stop && hexval((unsigned char)q[1]) >= 0 &&
					   hexval((unsigned char)q[2]) >= 0) {
					c = hexval((unsigned char)q[1]) * 16 + hexval((unsigned char)q[2]);
					q += 2;
				}
				if (n + 1 >= outlen)
					return false;
				out[n++] = (char)c;
			}
			out[n] = '\0';
			return true;
		}
		p = stop + 1;
	}
	return false;
}

enum MHD_Result route_login(struct http_req *r)
{
	struct app *app = r->app;
	struct route_login *l = r->defer_ctx;
	if (!l) {
		const char *body = r->body.data ? r->body.data : "";
		char token[CFG_TOKEN_MAX + 2], name[STORE_NAME_MAX * 2], password[SECRET_PASSWORD_MAX + 1], link[256];
		if (!app->cfg.accounts) {
			int wait = http_login_wait(r);
			if (wait)
				return login_throttled(r, wait);
			if (!form_value(body, r->body.len, "token", token, sizeof token))
				return login_page(r, 400, "Paste the token into the field.");
			/* Pasting the whole start-up URL works too. */
			const char *t = strstr(token, "token=");
			t = t ? t + 6 : token;
			while (*t == ' ')
				t++;
			size_t n = strlen(t);
			while (n && t[n - 1] == ' ')
				n--;
			memmove(token, t, n);
			token[n] = '\0';
			l = route_login_start(r, NULL, NULL, NULL, token);
		} else {
			bool has_name = form_value(body, r->body.len, "name", name, sizeof name);
			bool has_pw = form_value(body, r->body.len, "password", password, sizeof password);
			bool has_link = form_value(body, r->body.len, "link", link, sizeof link);
			l = route_login_start(r, has_name ? name : NULL, has_pw ? password : NULL, has_link ? link : NULL,
					      NULL);
		}
	}
	if (r->deferred)
		return MHD_YES; /* the password is being checked; we are called again */
	switch (l->outcome) {
	case ROUTE_LOGIN_OK:
		return redirect_with_cookie(r, 303, app->cfg.base_url, l->cookie);
	case ROUTE_LOGIN_THROTTLED:
		return login_throttled_what(r, l->wait_s, l->message);
	case ROUTE_LOGIN_WRONG:
		return login_page(r, 401, l->message);
	case ROUTE_LOGIN_BAD:
		return login_page(r, 400, l->message);
	default:
		return login_page(r, 500, "The server could not log you in (see its log).");
	}
}

enum MHD_Result route_logout(struct http_req *r)
{
	/* A form post from our own page (Sec-Fetch-Site and Origin were checked); no login needed to leave. */
	if (r->authorized)
		route_session_end(r);
	return redirect_with_cookie(r, 303, r->app->cfg.base_url, NULL);
}

enum MHD_Result route_ws_over_http(struct http_req *r)
{
	return http_error(r, 400, "bad_request",
			  "open the live feed as a WebSocket on a new connection (GET ws with Upgrade)");
}
