package webui

import (
	"context"
	"errors"
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
	release, err := u.checkTurn(r.Context())
	if err != nil {
		// The attempt stays counted: a flood of logins slows down its
		// own addresses.
		u.Logger.Warn("login: no turn to check the password", "remote", host, "err", err)
		w.Header().Set("Retry-After", strconv.Itoa(int(checkWait/time.Second)))
		u.render(w, http.StatusServiceUnavailable, "login", loginData{Title: "Log in", Username: name,
			Error: "Too many logins are being checked right now. Wait a few seconds and try again."})
		return
	}
	user, ok, err := u.checkPassword(r.Context(), name, pw)
	release()
	if err != nil {
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

const (
	// maxChecks is how many password checks run at once, so that a login
	// flood cannot exhaust memory: an argon2id check of a hash made by
	// password.Hash holds 64 MiB (and runs 4 lanes, enough to keep a small
	// machine busy), so the checks hold at most 128 MiB however many
	// logins arrive.
	maxChecks = 2
	// checkWait is how long a login waits for its turn to check a password
	// before it is answered 503.
	checkWait = 5 * time.Second
)

// errBusy is returned by checkTurn when no turn came within u.checkWait.
var errBusy = errors.New("every password check slot stayed busy")

// checkTurn waits for a turn to check a password, and returns the function
// that ends it. At most maxChecks turns run at once; it returns an error
// instead when ctx ends (the client went away) or no turn comes within
// u.checkWait.
func (u *UI) checkTurn(ctx context.Context) (release func(), err error) {
	timer := time.NewTimer(u.checkWait)
	defer timer.Stop()
	select {
	case u.checks <- struct{}{}:
		return func() { <-u.checks }, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	case <-timer.C:
		return nil, errBusy
	}
}

// checkPassword finds the user name and checks pw against their hash, or,
// when there is no such user, spends the time of a check all the same:
// which names exist does not show. It returns the user when pw is right,
// and an error only when the store fails. Call it in a turn (checkTurn).
func (u *UI) checkPassword(ctx context.Context, name, pw string) (*gatehouse.User, bool, error) {
	user, err := u.Store.FindUserByName(ctx, name)
	switch {
	case gatehouse.ErrorCode(err) == gatehouse.ENotFound:
		return nil, u.verify(nil, pw), nil
	case err != nil:
		return nil, false, err
	}
	return user, u.verify(user, pw), nil
}

// verify is UI.verify's default: password.Check, or password.CheckMissing
// (as slow, and false) for a user that does not exist.
func verify(user *gatehouse.User, pw string) bool {
	if user == nil {
		return password.CheckMissing(pw)
	}
	return password.Check(user.PasswordHash, pw)
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
