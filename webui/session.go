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
	"time"

	"gatehouse"
)

// session is a signed, self-contained login: any gateway node that holds
// the same master key accepts it, until it expires or the store's
// SessionsAfter of its user passes its issue time (logout, new password).
type session struct {
	// User is the administrator's name.
	User string
	// CSRF is the token every change must carry.
	CSRF   string
	issued time.Time
	nonce  string
}

// sessions signs and checks session cookies.
type sessions struct {
	key []byte
}

func newSessions(master []byte) *sessions {
	// A key of its own, derived from the master key, so that a session
	// signature can never serve as anything else.
	m := hmac.New(sha256.New, master)
	m.Write([]byte("gatehouse settings session v2"))
	return &sessions{key: m.Sum(nil)}
}

func (s *sessions) mac(parts ...string) string {
	m := hmac.New(sha256.New, s.key)
	m.Write([]byte(strings.Join(parts, "|")))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

// issue returns the cookie value of a new session.
func (s *sessions) issue(user string, issued, expires time.Time) string {
	var n [16]byte
	rand.Read(n[:])
	nonce := base64.RawURLEncoding.EncodeToString(n[:])
	u := base64.RawURLEncoding.EncodeToString([]byte(user))
	iat := strconv.FormatInt(issued.UnixMilli(), 10)
	exp := strconv.FormatInt(expires.Unix(), 10)
	return u + "." + iat + "." + exp + "." + nonce + "." + s.mac("session", u, iat, exp, nonce)
}

// parse checks a cookie value's signature and expiry at now. Whether a
// logout has voided it is for the caller to ask the store.
func (s *sessions) parse(v string, now time.Time) (*session, bool) {
	parts := strings.Split(v, ".")
	if len(v) > 512 || len(parts) != 5 {
		return nil, false
	}
	u, iat, exp, nonce, sig := parts[0], parts[1], parts[2], parts[3], parts[4]
	if subtle.ConstantTimeCompare([]byte(sig), []byte(s.mac("session", u, iat, exp, nonce))) != 1 {
		return nil, false
	}
	issued, err1 := strconv.ParseInt(iat, 10, 64)
	sec, err2 := strconv.ParseInt(exp, 10, 64)
	if err1 != nil || err2 != nil || !now.Before(time.Unix(sec, 0)) {
		return nil, false
	}
	user, err := base64.RawURLEncoding.DecodeString(u)
	if err != nil {
		return nil, false
	}
	return &session{User: string(user), issued: time.UnixMilli(issued), nonce: nonce, CSRF: s.mac("csrf", nonce)}, true
}

// validCSRF compares a presented token with the session's in constant time.
func (sess *session) validCSRF(token string) bool {
	return token != "" && subtle.ConstantTimeCompare([]byte(token), []byte(sess.CSRF)) == 1
}

// current returns the request's session, if any: signed, not expired, and
// issued after the last logout of its user (or the user's replacement) on
// any node. A user who is gone has no session.
func (u *UI) current(r *http.Request) (*session, bool) {
	c, err := r.Cookie(gatehouse.SessionCookie)
	if err != nil {
		return nil, false
	}
	sess, ok := u.sessions.parse(c.Value, u.now())
	if !ok {
		return nil, false
	}
	user, err := u.Store.FindUserByName(r.Context(), sess.User)
	if err != nil {
		if gatehouse.ErrorCode(err) != gatehouse.ENotFound {
			u.Logger.Warn("settings session: find user", "err", err)
		}
		return nil, false
	}
	if sess.issued.Before(user.SessionsAfter) {
		return nil, false
	}
	return sess, true
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
		Name:     gatehouse.SessionCookie,
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
	http.SetCookie(w, &http.Cookie{Name: gatehouse.SessionCookie, Value: "", Path: "/", MaxAge: -1, HttpOnly: true,
		Secure: u.SecureCookies || r.TLS != nil, SameSite: http.SameSiteStrictMode})
}
