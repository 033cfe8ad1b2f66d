package webui

import (
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"

	"gatehouse"
	"gatehouse/password"
)

type loginData struct {
	Title, Error, Username string
	Session                *session
}

func (u *UI) loginPage(w http.ResponseWriter, r *http.Request) {
	if _, ok := u.current(r); ok {
		http.Redirect(w, r, "/settings/api-keys", http.StatusSeeOther)
		return
	}
	u.render(w, http.StatusOK, "login", loginData{Title: "Log in"})
}

func (u *UI) login(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, 8<<10)
	u.readForm(w, r)
	name := strings.TrimSpace(r.PostFormValue("username"))
	pw := r.PostFormValue("password")
	host, _, _ := net.SplitHostPort(r.RemoteAddr)
	// Both subjects, whether or not the user exists (see throttle).
	subjects := []string{userSubjectOf(name), addrSubject + host}
	now := u.now()
	unavailable := func() {
		u.render(w, http.StatusServiceUnavailable, "login", loginData{Title: "Log in", Username: name, Error: "The store cannot be reached; try again shortly."})
	}
	wait, err := u.throttle.attempt(r.Context(), now, subjects...)
	if err != nil {
		u.Logger.Warn("login: count the attempt", "err", err)
		unavailable()
		return
	}
	if wait > 0 {
		w.Header().Set("Retry-After", strconv.Itoa(int(wait.Seconds())+1))
		u.render(w, http.StatusTooManyRequests, "login", loginData{Title: "Log in", Username: name,
			Error: "Too many failed logins. Wait " + strconv.Itoa(int(wait.Seconds())+1) + " seconds and try again."})
		return
	}
	ok := false
	user, err := u.Store.FindUserByName(r.Context(), name)
	switch {
	case err == nil:
		ok = password.Check(user.PasswordHash, pw)
	case gatehouse.ErrorCode(err) == gatehouse.ENotFound:
		ok = password.CheckMissing(pw) // as slow as a real check
	default:
		u.Logger.Warn("login: find user", "err", err)
		unavailable()
		return
	}
	if !ok {
		u.Logger.Info("login failed", "remote", host)
		u.render(w, http.StatusUnauthorized, "login", loginData{Title: "Log in", Username: name, Error: "The username or password is not right."})
		return
	}
	if err := u.throttle.succeed(r.Context(), subjects...); err != nil {
		u.Logger.Warn("login: clear failed logins", "err", err)
	}
	expires := now.Add(u.SessionTTL)
	// Never issued before the last logout, even by a node whose clock is
	// behind the one that logged out.
	issued := now
	if issued.Before(user.SessionsAfter) {
		issued = user.SessionsAfter
	}
	u.setCookie(w, r, u.sessions.issue(user.Username, issued, expires), expires)
	http.Redirect(w, r, "/settings/api-keys", http.StatusSeeOther)
}

func (u *UI) logout(w http.ResponseWriter, r *http.Request) {
	if sess, ok := u.current(r); ok {
		r.Body = http.MaxBytesReader(w, r.Body, 8<<10)
		u.readForm(w, r)
		if !sess.validCSRF(r.PostFormValue("csrf")) {
			http.Error(w, "The form did not come from this page (CSRF token).", http.StatusForbidden)
			return
		}
		// Every session of the user ends, on every node: a cookie copied
		// before the logout must not outlive it anywhere. Sessions are
		// stamped to the millisecond; every one issued up to this
		// millisecond ends, this one at least, whatever this node's clock
		// says.
		end := u.now().Truncate(time.Millisecond)
		if end.Before(sess.issued) {
			end = sess.issued
		}
		end = end.Add(time.Millisecond)
		if err := u.Store.EndSessions(r.Context(), sess.User, end); err != nil {
			u.Logger.Warn("logout: end sessions", "err", err)
			http.Error(w, "The store cannot be reached, so the session could not be ended; try again shortly.", http.StatusServiceUnavailable)
			return
		}
	}
	u.clearCookie(w, r)
	http.Redirect(w, r, "/login", http.StatusSeeOther)
}
