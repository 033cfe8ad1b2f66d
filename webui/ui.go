// Package webui is the Settings › API Keys page: login for local
// administrators, the list of keys, and creating, copying, renewing and
// deleting them. Pages are html/template embedded in the binary, with a
// little plain JavaScript for the clipboard and dialogs. Every change goes
// through keys.Service, like the management API and the CLI.
//
// Sessions are signed cookies: the user, the issue time, the expiry and a
// random nonce, signed with HMAC-SHA256 under a key derived from the master
// key, so every gateway node that shares the master key accepts them and a
// restart logs nobody out. The CSRF token is an HMAC of the nonce; every
// form carries it in a hidden field and every script request in the
// X-CSRF-Token header. Logout, and a new password, move the user's
// SessionsAfter in the store past the session's issue time, which ends the
// user's sessions on every node at once.
//
// Failed logins are slowed down per username and per client address (see
// throttle). Every attempt is counted as a failure in the store before its
// password is checked, and a success clears the counts, so the throttle
// holds across nodes, restarts and parallel bursts; a made-up username is
// counted and checked like a real one, so the answers do not tell which
// users exist. At most maxChecks password checks (argon2id, 64 MiB each)
// run at once, whatever the number of logins.
package webui

import (
	"context"
	"embed"
	"fmt"
	"html/template"
	"io/fs"
	"log/slog"
	"net/http"
	"sync/atomic"
	"time"

	"gatehouse"
	"gatehouse/keys"
	"gatehouse/password"
)

//go:embed templates/*.html
var templateFS embed.FS

//go:embed static
var staticFS embed.FS

// UI serves the Settings pages. Set the fields, then call Init once before
// Handler, SessionAuth or EnsureAdmin.
type UI struct {
	// Keys manages the keys. Required.
	Keys *keys.Service
	// Store holds the administrators and their failed logins. Required.
	Store gatehouse.UserStore
	// MasterKey signs session cookies (through a key derived from it), so
	// that every node with the same master key accepts a session. Required.
	MasterKey []byte
	// Scopes returns the route scope names offered in the create form. If
	// nil, only "all routes" is offered.
	Scopes func() []string
	// Now returns the current time. If nil, time.Now is used.
	Now func() time.Time
	// Logger receives login failures (never a password or a key). If nil,
	// nothing is logged.
	Logger *slog.Logger
	// SessionTTL is how long a login lasts. Zero means 12 hours.
	SessionTTL time.Duration
	// SecureCookies marks the session cookie Secure even when the request
	// did not arrive over TLS (set it behind a TLS-terminating proxy). If
	// false, the cookie is Secure only on requests that came over TLS.
	SecureCookies bool
	// ExpiryWarning is how long before its expiry the list says a key
	// "Expires in N days". Zero means gatehouse.DefaultExpiryWarning.
	ExpiryWarning time.Duration
	// BodyTimeout is how long a client has to send a form, so that a
	// stalled body does not hold a connection. Zero means 10s.
	BodyTimeout time.Duration

	sessions *sessions
	throttle throttle
	pages    map[string]*template.Template
	// checks holds a token for each password check running (maxChecks).
	checks chan struct{}
	// checkWait is how long a login waits for a check's turn: the constant
	// checkWait, which in-package tests change.
	checkWait time.Duration
	// verify checks a password, or spends the time of a check for a nil
	// user: the function verify, or, in in-package tests, one that watches
	// the checks in flight.
	verify func(user *gatehouse.User, pw string) bool
	// expiryWarningSet is what SetExpiryWarning set last; 0 until then.
	expiryWarningSet atomic.Int64
}

// Init prepares the templates and the session signer.
func (u *UI) Init() error {
	if len(u.MasterKey) == 0 {
		return fmt.Errorf("webui: MasterKey is required")
	}
	if u.Logger == nil {
		u.Logger = slog.New(slog.DiscardHandler)
	}
	if u.SessionTTL == 0 {
		u.SessionTTL = 12 * time.Hour
	}
	if u.BodyTimeout == 0 {
		u.BodyTimeout = 10 * time.Second
	}
	u.sessions = newSessions(u.MasterKey)
	u.throttle = throttle{store: u.Store}
	u.checks = make(chan struct{}, maxChecks)
	u.checkWait = checkWait
	u.verify = verify
	u.pages = map[string]*template.Template{}
	funcs := template.FuncMap{"date": formatDate, "datetime": formatDateTime, "ptr": func(t time.Time) *time.Time { return &t }}
	for _, page := range []string{"login", "keys", "details"} {
		t, err := template.New("layout.html").Funcs(funcs).ParseFS(templateFS, "templates/layout.html", "templates/"+page+".html")
		if err != nil {
			return fmt.Errorf("webui: parse %s: %w", page, err)
		}
		u.pages[page] = t
	}
	return nil
}

func (u *UI) now() time.Time {
	if u.Now != nil {
		return u.Now()
	}
	return time.Now()
}

// Handler serves /login, /logout and /settings/...
func (u *UI) Handler() http.Handler {
	mux := http.NewServeMux()
	static, _ := fs.Sub(staticFS, "static")
	mux.Handle("GET /settings/static/", http.StripPrefix("/settings/static/", http.FileServerFS(static)))
	mux.HandleFunc("GET /login", u.loginPage)
	mux.HandleFunc("POST /login", u.login)
	mux.HandleFunc("POST /logout", u.logout)
	mux.HandleFunc("GET /settings", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "/settings/api-keys", http.StatusSeeOther)
	})
	mux.Handle("GET /settings/api-keys", u.auth(u.listPage))
	mux.Handle("POST /settings/api-keys", u.auth(u.create))
	mux.Handle("GET /settings/api-keys/{id}", u.auth(u.detailsPage))
	mux.Handle("POST /settings/api-keys/{id}/delete", u.auth(u.delete))
	mux.Handle("POST /settings/api-keys/{id}/renew", u.auth(u.renew))
	mux.Handle("POST /settings/api-keys/{id}/reveal", u.auth(u.reveal))
	mux.Handle("POST /settings/api-keys/{id}/roll", u.auth(u.roll))
	mux.Handle("POST /settings/api-keys/{id}/disable", u.auth(u.setDisabled(true)))
	mux.Handle("POST /settings/api-keys/{id}/enable", u.auth(u.setDisabled(false)))
	mux.Handle("POST /settings/api-keys/{id}/update", u.auth(u.update))
	return securityHeaders(mux)
}

// EnsureAdmin creates the user "admin" with password when there is no
// administrator yet and password is not empty (GATEHOUSE_ADMIN_PASSWORD at
// first start). There are no default credentials.
func (u *UI) EnsureAdmin(ctx context.Context, pw string) error {
	if pw == "" {
		return nil
	}
	n, err := u.Store.CountUsers(ctx)
	if err != nil || n > 0 {
		return err
	}
	if len(pw) < 12 {
		return fmt.Errorf("GATEHOUSE_ADMIN_PASSWORD must be at least 12 characters long")
	}
	hash, err := password.Hash(pw)
	if err != nil {
		return err
	}
	return u.Store.CreateUser(ctx, &gatehouse.User{Username: "admin", PasswordHash: hash, CreatedAt: u.now().UTC()})
}

type ctxKey int

const sessionKey ctxKey = 0

// auth sends requests without a session to /login, and refuses a POST
// without the session's CSRF token (form field csrf or header X-CSRF-Token).
func (u *UI) auth(next http.HandlerFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		sess, ok := u.current(r)
		if !ok {
			if r.Method == http.MethodGet {
				http.Redirect(w, r, "/login", http.StatusSeeOther)
			} else {
				http.Error(w, "Your session has ended: log in again.", http.StatusUnauthorized)
			}
			return
		}
		if r.Method == http.MethodPost {
			r.Body = http.MaxBytesReader(w, r.Body, 16<<10)
			u.readForm(w, r)
			token := r.Header.Get("X-CSRF-Token")
			if token == "" {
				token = r.PostFormValue("csrf")
			}
			if !sess.validCSRF(token) {
				http.Error(w, "The form has expired or did not come from this page (CSRF token): reload and try again.", http.StatusForbidden)
				return
			}
		}
		next(w, r.WithContext(context.WithValue(r.Context(), sessionKey, sess)))
	})
}

// readForm reads a form body with a deadline, so that a client that stops
// sending it does not hold the connection.
func (u *UI) readForm(w http.ResponseWriter, r *http.Request) {
	rc := http.NewResponseController(w)
	rc.SetReadDeadline(time.Now().Add(u.BodyTimeout))
	if err := r.ParseForm(); err != nil {
		w.Header().Set("Connection", "close") // and keep the passed deadline
		return
	}
	rc.SetReadDeadline(time.Time{})
}

func sessionOf(r *http.Request) *session { return r.Context().Value(sessionKey).(*session) }

// adminOf is the administrator signed in for r, as the key service's
// caller: not bounded by scopes, "admin:<user>" in the audit log.
func adminOf(r *http.Request) keys.Caller { return keys.Admin("admin:" + sessionOf(r).User) }

func securityHeaders(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Security-Policy", "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; frame-ancestors 'none'; form-action 'self'; base-uri 'none'")
		h.Set("X-Frame-Options", "DENY")
		h.Set("Referrer-Policy", "no-referrer")
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Cache-Control", "no-store")
		next.ServeHTTP(w, r)
	})
}

func (u *UI) render(w http.ResponseWriter, status int, page string, data any) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	if err := u.pages[page].Execute(w, data); err != nil {
		u.Logger.Warn("render settings page", "page", page, "err", err)
	}
}

func formatDate(t *time.Time) string {
	if t == nil {
		return "never"
	}
	return t.UTC().Format("Jan 2, 2006")
}

func formatDateTime(t *time.Time) string {
	if t == nil {
		return "never"
	}
	return t.UTC().Format("Jan 2, 2006 15:04 UTC")
}

// SetExpiryWarning replaces ExpiryWarning while the UI serves (a config
// reload); the pages rendered from now on use d. Zero or less means
// gatehouse.DefaultExpiryWarning.
func (u *UI) SetExpiryWarning(d time.Duration) {
	if d <= 0 {
		d = gatehouse.DefaultExpiryWarning
	}
	u.expiryWarningSet.Store(int64(d))
}

func (u *UI) expiryWarning() time.Duration {
	if d := u.expiryWarningSet.Load(); d > 0 {
		return time.Duration(d)
	}
	if u.ExpiryWarning > 0 {
		return u.ExpiryWarning
	}
	return gatehouse.DefaultExpiryWarning
}
