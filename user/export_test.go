package user

import (
	"context"
	"time"
)

// SetRefusalWait replaces how s waits out a refusal's padding, for tests
// that must not sleep; wait receives how long the refusal still had to
// take.
func SetRefusalWait(s *Service, wait func(ctx context.Context, d time.Duration)) { s.pad.wait = wait }

// RefusalFloor returns the time every refusal of s currently takes.
func RefusalFloor(s *Service) time.Duration { return s.pad.Floor() }

// ObserveVerification feeds the refusal padding one measured verification.
func ObserveVerification(s *Service, class string, d time.Duration) { s.pad.observe(class, d) }
