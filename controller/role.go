package controller

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/loomsdn/loom/apps"
	"github.com/loomsdn/loom/openflow"
)

// Mastership. Every session asks the switch to make this loomd its
// MASTER, with a generation id taken when loomd started (later starts
// win): OVS then demotes any other controller on the bridge to SLAVE and
// refuses its writes (OFPBRC_IS_SLAVE), and refuses an older
// generation's MASTER request as stale. A loomd that finds itself
// refused stops writing to that switch and says so, loudly and in its
// health, instead of fighting another instance flow by flow. (A cluster
// replaces the start time with an election revision.)

// roleState is a session's standing with its switch.
type roleState struct {
	passive atomic.Bool // another controller is master: write nothing
	// expected says the passivity is a cluster's choice (another
	// instance is master), not a problem for health.
	expected atomic.Bool
	reason   atomic.Pointer[string]
	since    atomic.Int64 // unix nanos of the last change either way
}

// requestMaster sends the MASTER request without waiting; the returned
// function waits for the answer. The switch handles messages in order,
// so flow-mods sent after the request are judged by its outcome, and the
// handshake pays no extra round trip.
func (s *session) requestMaster(ctx context.Context) func() error {
	wait := s.conn.Begin(ctx, openflow.RoleRequest{Role: openflow.RoleMaster, GenerationID: s.c.generation})
	return func() error {
		_, err := wait()
		var em *openflow.ErrorMsg
		switch {
		case err == nil:
			return nil
		case errors.As(err, &em) && em.ErrType == openflow.ErrRoleRequestFailed && em.Code == openflow.RoleStale:
			s.demote(fmt.Sprintf("the switch has seen a newer controller generation than this loomd's (%d)", s.c.generation))
			return nil
		case errors.As(err, &em) && em.ErrType == openflow.ErrBadRequest:
			return nil // a switch without roles: every controller is equal there
		}
		return fmt.Errorf("role request: %w", err)
	}
}

// demote makes the session passive: it keeps the connection (port status
// still feeds the topology) but sends no flow-mods.
func (s *session) demote(why string) {
	if s.role.passive.Swap(true) {
		return
	}
	s.role.reason.Store(&why)
	s.role.since.Store(time.Now().UnixNano())
	s.log.WithField("why", why).Error("another controller is master of this switch; this loomd stops writing to it. " +
		"Two controllers manage this bridge: list them with `ovs-vsctl get-controller BRIDGE` and remove one, or run them as a cluster")
}

// isSlaveError says whether a switch error means Loom is not master.
func isSlaveError(e SwitchError) bool {
	return e.Error == openflow.ErrorName(openflow.ErrBadRequest, openflow.BadRequestIsSlave)
}

// passiveConditions names every switch another controller took.
func (c *Controller) passiveConditions() []apps.Condition {
	var out []apps.Condition
	for _, s := range c.reg.list() {
		if !s.role.passive.Load() || s.role.expected.Load() {
			continue
		}
		why := "another controller is master"
		if p := s.role.reason.Load(); p != nil {
			why += ": " + *p
		}
		out = append(out, apps.Condition{Kind: "switch", Subject: fmt.Sprintf("0x%016x", s.dpid),
			Message: why + "; this loomd does not write to it", Since: time.Unix(0, s.role.since.Load())})
	}
	return out
}

// passive says whether another controller is master of dpid: Loom then
// changes nothing for it, neither flows nor OVSDB rows.
//
// In a cluster a switch this instance has no session to is not its to
// write either: its master is elsewhere.
// masterSince says since when this instance writes to dpid, and whether
// it does (not passive, with a session).
func (c *Controller) masterSince(dpid uint64) (time.Time, bool) {
	s := c.reg.get(dpid)
	if s == nil || s.role.passive.Load() {
		return time.Time{}, false
	}
	return time.Unix(0, s.role.since.Load()), true
}

func (c *Controller) passive(dpid uint64) bool {
	s := c.reg.get(dpid)
	if s == nil {
		return c.cfg.Cluster != nil
	}
	return s.role.passive.Load()
}
