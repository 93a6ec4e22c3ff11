package audit

import (
	"context"
	"net/netip"
	"strconv"
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

// Actor is who makes an administrative change (a role, a policy): a
// signed-in user, or a named operator or process ("cli", "bootstrap")
// when no user acts.
type Actor struct {
	// UserID is the acting user; 0 when no user acts.
	UserID int64
	// Name names a non-user actor; when set it is what String returns.
	Name string
}

// String is how the actor is stored (casbin_rules.created_by and
// updated_by, event data "by"): Name when set, else the user id in
// decimal, else "".
func (a Actor) String() string {
	switch {
	case a.Name != "":
		return a.Name
	case a.UserID != 0:
		return strconv.FormatInt(a.UserID, 10)
	}
	return ""
}

type actorKey struct{}

// ContextWithActor returns ctx carrying a, the actor of the changes made
// with it. Services that record who changed something (rbac's policy
// administration, user.Service.SetRole) read it with [ActorFromContext].
func ContextWithActor(ctx context.Context, a Actor) context.Context {
	return context.WithValue(ctx, actorKey{}, a)
}

// ActorFromContext returns the Actor that [ContextWithActor] put in ctx.
func ActorFromContext(ctx context.Context) (Actor, bool) {
	a, ok := ctx.Value(actorKey{}).(Actor)
	return a, ok
}
