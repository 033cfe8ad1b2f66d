// Package gatehouse holds the domain language of the Gatehouse API gateway:
// API keys and their secrets, scopes, rate limits, audit and usage records,
// application errors, and the Store interface (KeyStore, UserStore and
// UsageStore) that the storage adapters (sqlite, postgres) implement.
//
// It imports only the standard library. Every other package of the module may
// import it; it imports none of them.
package gatehouse
