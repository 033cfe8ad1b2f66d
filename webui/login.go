package webui

import (
	"net"
	"net/http"
	"strconv"
	"strings"

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
	subjects := []string{"user:" + strings.ToLower(name), "ip:" + host}
	now := u.now()
	if wait := u.throttle.wait(now, subjects...); wait > 0 {
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
		u.render(w, http.StatusServiceUnavailable, "login", loginData{Title: "Log in", Username: name, Error: "The store cannot be reached; try again shortly."})
		return
	}
	if !ok {
		u.throttle.fail(now, subjects...)
		u.Logger.Info("login failed", "remote", host)
		u.render(w, http.StatusUnauthorized, "login", loginData{Title: "Log in", Username: name, Error: "The username or password is not right."})
		return
	}
	u.throttle.succeed(subjects...)
	expires := now.Add(u.SessionTTL)
	u.setCookie(w, r, u.sessions.issue(user.Username, expires), expires)
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
		u.sessions.revoke(sess, u.now())
	}
	u.clearCookie(w, r)
	http.Redirect(w, r, "/login", http.StatusSeeOther)
}
