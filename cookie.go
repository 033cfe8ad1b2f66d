package gatehouse

// SessionCookie is the name of the Settings session cookie. The Settings UI
// sets it; the data plane removes it from every request it forwards and
// drops an upstream's Set-Cookie of that name: browsers send a host's
// cookies to every port of it, so without that an upstream could read an
// administrator's session, or replace it.
const SessionCookie = "gatehouse_session"
