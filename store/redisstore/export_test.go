package redisstore

// SetRebaseAt sets where s renumbers a sliding window's units, so that a
// test reaches it in a few requests.
func SetRebaseAt(s *Store, n int64) { s.rebaseAt = n }
