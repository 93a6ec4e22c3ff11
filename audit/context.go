package audit

import (
	"context"
	"net/netip"
)

// RequestInfo is who is on the other end of a request: what every event
// recorded while serving it should carry. [FromRequest] builds it from an
// *http.Request and [Middleware] puts it in the request's context.
type RequestInfo struct {
	ClientIP      netip.Addr
	UserAgent     string
	CorrelationID string
}

type requestInfoKey struct{}

// NewContext returns ctx carrying info. Recorders fill an event's empty
// ClientIP, UserAgent and CorrelationID from it, so services deep in a
// request need not pass them along.
func NewContext(ctx context.Context, info RequestInfo) context.Context {
	return context.WithValue(ctx, requestInfoKey{}, info)
}

// InfoFromContext returns the RequestInfo that [NewContext] put in ctx.
func InfoFromContext(ctx context.Context) (RequestInfo, bool) {
	info, ok := ctx.Value(requestInfoKey{}).(RequestInfo)
	return info, ok
}
