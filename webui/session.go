package webui

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"gatehouse"
)

// cookieName is the session cookie.
const cookieName = "gatehouse_session"

// session is a signed, self-contained login: any gateway node that holds
// the same master key accepts it.
type session struct {
	// User is the administrator's name.
	User string
	// CSRF is the token every change must carry.
	CSRF    string
	expires time.Time
	nonce   string
}

// sessions signs and checks session cookies, and remembers logouts.
type sessions struct {
	key []byte

	mu      sync.Mutex
	revoked map[string]time.Time // nonce → expiry
}

func newSessions(master []byte) *sessions {
	// A key of its own, derived from the master key, so that a session
	// signature can never serve as anything else.
	m := hmac.New(sha256.New, master)
	m.Write([]byte("gatehouse settings session v1"))
	return &sessions{key: m.Sum(nil), revoked: map[string]time.Time{}}
}

func (s *sessions) mac(parts ...string) string {
	m := hmac.New(sha256.New, s.key)
	m.Write([]byte(strings.Join(parts, "|")))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

// issue returns the cookie value of a new session.
func (s *sessions) issue(user string, expires time.Time) string {
	var n [16]byte
	rand.Read(n[:])
	nonce := base64.RawURLEncoding.EncodeToString(n[:])
	u := base64.RawURLEncoding.EncodeToString([]byte(user))
	exp := strconv.FormatInt(expires.Unix(), 10)
	return u + "." + exp + "." + nonce + "." + s.mac("session", u, exp, nonce)
}

// parse checks a cookie value at now.
func (s *sessions) parse(v string, now time.Time) (*session, bool) {
	parts := strings.Split(v, ".")
	if len(v) > 512 || len(parts) != 4 {
		return nil, false
	}
	u, exp, nonce, sig := parts[0], parts[1], parts[2], parts[3]
	if subtle.ConstantTimeCompare([]byte(sig), []byte(s.mac("session", u, exp, nonce))) != 1 {
		return nil, false
	}
	sec, err := strconv.ParseInt(exp, 10, 64)
	if err != nil || !now.Before(time.Unix(sec, 0)) {
		return nil, false
	}
	user, err := base64.RawURLEncoding.DecodeString(u)
	if err != nil {
		return nil, false
	}
	s.mu.Lock()
	_, out := s.revoked[nonce]
	s.mu.Unlock()
	if out {
		return nil, false
	}
	return &session{User: string(user), expires: time.Unix(sec, 0), nonce: nonce, CSRF: s.mac("csrf", nonce)}, true
}

// revoke ends a session before its expiry (logout), on this node.
func (s *sessions) revoke(sess *session, now time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for n, exp := range s.revoked {
		if !now.Before(exp) {
			delete(s.revoked, n)
		}
	}
	s.revoked[sess.nonce] = sess.expires
}

// validCSRF compares a presented token with the session's in constant time.
func (sess *session) validCSRF(token string) bool {
	return token != "" && subtle.ConstantTimeCompare([]byte(token), []byte(sess.CSRF)) == 1
}

// current returns the request's session, if any.
func (u *UI) current(r *http.Request) (*session, bool) {
	c, err := r.Cookie(cookieName)
	if err != nil {
		return nil, false
	}
	return u.sessions.parse(c.Value, u.now())
}

// SessionAuth authenticates a request by its Settings session, for the
// management API. ok is false without a valid session. For methods other
// than GET, HEAD and OPTIONS the X-CSRF-Token header must hold the
// session's token; otherwise err is a forbidden error.
func (u *UI) SessionAuth(r *http.Request) (user string, ok bool, err error) {
	sess, ok := u.current(r)
	if !ok {
		return "", false, nil
	}
	if gatehouse.MethodAccess(r.Method) == gatehouse.AccessWrite && !sess.validCSRF(r.Header.Get("X-CSRF-Token")) {
		return "", false, gatehouse.Errorf(gatehouse.EForbidden, "The CSRF token is missing or wrong; reload the Settings page.")
	}
	return sess.User, true, nil
}

func (u *UI) setCookie(w http.ResponseWriter, r *http.Request, value string, expires time.Time) {
	http.SetCookie(w, &http.Cookie{
		Name:     cookieName,
		Value:    value,
		Path:     "/",
		Expires:  expires,
		MaxAge:   int(expires.Sub(u.now()).Seconds()),
		HttpOnly: true,
		Secure:   u.SecureCookies || r.TLS != nil,
		SameSite: http.SameSiteStrictMode,
	})
}

func (u *UI) clearCookie(w http.ResponseWriter, r *http.Request) {
	http.SetCookie(w, &http.Cookie{Name: cookieName, Value: "", Path: "/", MaxAge: -1, HttpOnly: true,
		Secure: u.SecureCookies || r.TLS != nil, SameSite: http.SameSiteStrictMode})
}
