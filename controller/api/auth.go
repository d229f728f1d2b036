package api

import (
	"container/list"
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"net"
	"strings"
	"sync"
	"time"

	"github.com/sirupsen/logrus"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/peer"
	"google.golang.org/grpc/status"
)

// rule is what one RPC needs: a scope and, for an app token, whether the
// request's client must be the token's name (its own flows).
type rule struct {
	scope  Scope
	own    bool
	public bool // served without a token: the standard health check
}

// methodRules is every RPC's required scope, in one table. An RPC the
// server serves but this table lacks is refused to every token
// (TestEveryRPCHasAScope fails first).
var methodRules = map[string]rule{
	"/loom.v1.ControllerService/GetStatus":     {scope: ScopeRead},
	"/loom.v1.ControllerService/Plan":          {scope: ScopeRead},
	"/loom.v1.ControllerService/Reload":        {scope: ScopeOperator},
	"/loom.v1.ControllerService/ForgetSwitch":  {scope: ScopeOperator},
	"/loom.v1.ControllerService/WatchEvents":   {scope: ScopeRead},
	"/loom.v1.ControllerService/ListInstances": {scope: ScopeRead},

	"/loom.v1.TopologyService/ListHypervisors": {scope: ScopeRead},
	"/loom.v1.TopologyService/ListSwitches":    {scope: ScopeRead},
	"/loom.v1.TopologyService/ListPorts":       {scope: ScopeRead},
	"/loom.v1.TopologyService/ListLinks":       {scope: ScopeRead},
	"/loom.v1.TopologyService/ListHosts":       {scope: ScopeRead},
	"/loom.v1.TopologyService/ListTunnels":     {scope: ScopeRead},
	"/loom.v1.TopologyService/GetVM":           {scope: ScopeRead},
	"/loom.v1.TopologyService/WatchTopology":   {scope: ScopeRead},

	"/loom.v1.FlowService/ListFlows":        {scope: ScopeRead},
	"/loom.v1.FlowService/DiffFlows":        {scope: ScopeRead},
	"/loom.v1.FlowService/ListSwitchErrors": {scope: ScopeRead},
	"/loom.v1.FlowService/SetFlows":         {scope: ScopeApp, own: true},
	"/loom.v1.FlowService/DeleteFlows":      {scope: ScopeApp, own: true},

	"/loom.v1.PacketService/WatchPacketIns": {scope: ScopeApp},
	"/loom.v1.PacketService/SendPacketOut":  {scope: ScopeApp},

	"/loom.v1.NetworkService/ListNetworks":  {scope: ScopeRead},
	"/loom.v1.NetworkService/AddNetwork":    {scope: ScopeOperator},
	"/loom.v1.NetworkService/DeleteNetwork": {scope: ScopeOperator},
	"/loom.v1.NetworkService/ListTrunks":    {scope: ScopeRead},
	"/loom.v1.NetworkService/AddTrunk":      {scope: ScopeOperator},
	"/loom.v1.NetworkService/DeleteTrunk":   {scope: ScopeOperator},
	"/loom.v1.NetworkService/ListACLs":      {scope: ScopeRead},
	"/loom.v1.NetworkService/AddACL":        {scope: ScopeOperator},
	"/loom.v1.NetworkService/DeleteACL":     {scope: ScopeOperator},
}

// standardRules are the standard gRPC services loomd serves besides its
// own: health for load balancers and probes, which carry no token, and
// reflection for grpcurl and grpcui, which reads the API's shape.
var standardRules = map[string]rule{
	"/grpc.health.v1.Health/Check": {public: true},
	"/grpc.health.v1.Health/List":  {public: true},
	"/grpc.health.v1.Health/Watch": {public: true},

	"/grpc.reflection.v1.ServerReflection/ServerReflectionInfo":      {scope: ScopeRead},
	"/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo": {scope: ScopeRead},
}

// ruleFor is the rule of method, from either table.
func ruleFor(method string) (rule, bool) {
	if r, ok := methodRules[method]; ok {
		return r, true
	}
	r, ok := standardRules[method]
	return r, ok
}

// RequiredScope is the scope an RPC (its full method name,
// "/loom.v1.FlowService/SetFlows") needs; false when the table lacks it.
func RequiredScope(method string) (Scope, bool) {
	r, ok := ruleFor(method)
	return r.scope, ok
}

// Refusal reasons, the label values of loom_grpc_refused_total.
const (
	reasonMissingToken  = "missing_token"  // no authorization header
	reasonWrongToken    = "wrong_token"    // a token no line of the file holds
	reasonScope         = "scope"          // a token without the scope the RPC needs
	reasonForeignClient = "foreign_client" // an app token changing another client's flows
	reasonUnlisted      = "unlisted_method"
)

var refusalReasons = []string{reasonMissingToken, reasonWrongToken, reasonScope, reasonForeignClient, reasonUnlisted}

// authenticator checks every call's token and scope.
type authenticator struct {
	tokens  []Token
	digests [][sha256.Size]byte // of the secrets, compared in constant time
	empty   []bool              // a token without a secret matches nothing
	metrics *Metrics
	log     *refusalLog
}

func newAuthenticator(tokens []Token, m *Metrics, log logrus.FieldLogger, now func() time.Time) *authenticator {
	a := &authenticator{tokens: tokens, metrics: m, log: newRefusalLog(log, refusalLogEntries, time.Minute, now)}
	for _, t := range tokens {
		a.digests = append(a.digests, sha256.Sum256([]byte(t.Secret)))
		a.empty = append(a.empty, t.Secret == "")
	}
	return a
}

// identify finds the caller's token: nil and a refusal reason when there
// is none or it is wrong. Every configured token is compared (as SHA-256
// digests, all of one length) so the time taken says nothing about which
// token, or how much of one, matched.
func (a *authenticator) identify(ctx context.Context) (*Token, string) {
	md, _ := metadata.FromIncomingContext(ctx)
	values := md.Get("authorization")
	if len(values) == 0 {
		return nil, reasonMissingToken
	}
	found := -1
	for _, v := range values {
		v = strings.TrimSpace(v)
		if len(v) < 7 || !strings.EqualFold(v[:7], "bearer ") {
			continue
		}
		d := sha256.Sum256([]byte(strings.TrimSpace(v[7:])))
		for i := range a.digests {
			if subtle.ConstantTimeCompare(d[:], a.digests[i][:]) == 1 && !a.empty[i] && found < 0 {
				found = i
			}
		}
	}
	if found < 0 {
		return nil, reasonWrongToken
	}
	return &a.tokens[found], ""
}

// check authorizes one call; req is the request of a unary call (nil for
// a stream, whose rules need no request).
func (a *authenticator) check(ctx context.Context, method string, req any) error {
	_, err := a.authorize(ctx, method, req)
	return err
}

// authorize is check, returning the caller's token too (nil for a public
// method).
func (a *authenticator) authorize(ctx context.Context, method string, req any) (*Token, error) {
	if r, ok := ruleFor(method); ok && r.public {
		return nil, nil
	}
	tok, reason := a.identify(ctx)
	var err error
	switch {
	case tok == nil && reason == reasonMissingToken:
		err = status.Error(codes.Unauthenticated, `missing bearer token: send "authorization: Bearer <token>" (loomctl: --token-file FILE or LOOM_TOKEN)`)
	case tok == nil:
		err = status.Error(codes.Unauthenticated, "wrong bearer token")
	default:
		r, listed := ruleFor(method)
		switch {
		case !listed:
			reason = reasonUnlisted
			err = status.Errorf(codes.PermissionDenied, "%s has no scope in loomd's table: refused to every token", method)
		case tok.Scope < r.scope:
			reason = reasonScope
			err = status.Errorf(codes.PermissionDenied, "%s needs scope %s; token %q has scope %s", method, r.scope, tok.Name, tok.Scope)
		case r.own && tok.Scope == ScopeApp:
			c, _ := req.(interface{ GetClient() string })
			if c == nil || c.GetClient() != tok.Name {
				got := ""
				if c != nil {
					got = c.GetClient()
				}
				reason = reasonForeignClient
				err = status.Errorf(codes.PermissionDenied, "%s: token %q (scope app) changes only its own flows: client must be %q, not %q (another client's flows need scope operator)",
					method, tok.Name, tok.Name, got)
			}
		}
	}
	if err != nil {
		a.refused(ctx, tok, method, reason, err)
	}
	return tok, err
}

func (a *authenticator) refused(ctx context.Context, tok *Token, method, reason string, err error) {
	if a.metrics != nil {
		a.metrics.refused.WithLabelValues(reason).Inc()
	}
	addr := "unknown"
	if p, ok := peer.FromContext(ctx); ok && p.Addr != nil {
		addr = p.Addr.String()
		// The host, not the port: a client reconnecting for every call
		// is still one client.
		if host, _, e := net.SplitHostPort(addr); e == nil {
			addr = host
		}
	}
	name := ""
	if tok != nil {
		name = tok.Name
	}
	a.log.refused(addr, name, method, reason, status.Code(err))
}

func (a *authenticator) options() []grpc.ServerOption {
	return []grpc.ServerOption{
		grpc.ChainUnaryInterceptor(func(ctx context.Context, req any, info *grpc.UnaryServerInfo, h grpc.UnaryHandler) (any, error) {
			tok, err := a.authorize(ctx, info.FullMethod, req)
			if err != nil {
				return nil, err
			}
			if tok != nil {
				ctx = withCaller(ctx, tok.Name) // for the audit line
			}
			return h(ctx, req)
		}),
		grpc.ChainStreamInterceptor(func(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, h grpc.StreamHandler) error {
			if err := a.check(ss.Context(), info.FullMethod, nil); err != nil {
				return err
			}
			return h(srv, ss)
		}),
	}
}

// refusalLogEntries bounds the clients the refusal log remembers.
const refusalLogEntries = 1024

// refusalLog logs refused calls once per client per interval, with the
// number it left out since; it remembers at most max clients, forgetting
// the one logged longest ago first.
type refusalLog struct {
	log   logrus.FieldLogger
	max   int
	every time.Duration
	now   func() time.Time

	mu      sync.Mutex
	clients map[string]*list.Element // of *refusalClient
	order   *list.List               // front: logged longest ago
}

type refusalClient struct {
	key        string
	logged     time.Time
	suppressed int
}

func newRefusalLog(log logrus.FieldLogger, limit int, every time.Duration, now func() time.Time) *refusalLog {
	if now == nil {
		now = time.Now
	}
	return &refusalLog{log: log, max: limit, every: every, now: now, clients: map[string]*list.Element{}, order: list.New()}
}

func (l *refusalLog) refused(addr, token, method, reason string, code codes.Code) {
	key := addr
	if token != "" {
		key += " " + token
	}
	now := l.now()
	l.mu.Lock()
	var suppressed int
	if e, ok := l.clients[key]; ok {
		c := e.Value.(*refusalClient)
		if now.Sub(c.logged) < l.every {
			c.suppressed++
			l.mu.Unlock()
			return
		}
		suppressed = c.suppressed
		c.logged, c.suppressed = now, 0
		l.order.MoveToBack(e)
	} else {
		if l.order.Len() >= l.max {
			oldest := l.order.Front()
			delete(l.clients, oldest.Value.(*refusalClient).key)
			l.order.Remove(oldest)
		}
		l.clients[key] = l.order.PushBack(&refusalClient{key: key, logged: now})
	}
	l.mu.Unlock()
	if l.log == nil {
		return
	}
	f := logrus.Fields{"peer": addr, "method": method, "reason": reason, "code": code.String()}
	if token != "" {
		f["token"] = token
	}
	if suppressed > 0 {
		f["refused_since_last_log"] = suppressed
	}
	l.log.WithFields(f).Warn("API call refused (this client's further refusals within a minute are counted in loom_grpc_refused_total, not logged)")
}

// size is how many clients the log remembers (for tests).
func (l *refusalLog) size() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.clients)
}
