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

// ContextWithRequestInfo returns ctx carrying info. Recorders fill an
// event's empty ClientIP, UserAgent and CorrelationID from it, so services
// deep in a request need not pass them along.
func ContextWithRequestInfo(ctx context.Context, info RequestInfo) context.Context {
	return context.WithValue(ctx, requestInfoKey{}, info)
}

// RequestInfoFromContext returns the RequestInfo that
// [ContextWithRequestInfo] put in ctx.
func RequestInfoFromContext(ctx context.Context) (RequestInfo, bool) {
	info, ok := ctx.Value(requestInfoKey{}).(RequestInfo)
	return info, ok
}
