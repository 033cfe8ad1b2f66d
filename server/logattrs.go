package server

import "log/slog"

// levelFor logs server-side failures above the ordinary access lines.
func levelFor(status int) slog.Level {
	if status >= 500 {
		return slog.LevelWarn
	}
	return slog.LevelInfo
}
