package controller

import (
	"github.com/sirupsen/logrus"

	"github.com/loomsdn/loom/openflow"
)

// Packet-in protection at the switch: OVS's controller meter
// (OFPM_CONTROLLER) rate-limits every packet-in a switch sends, so a VM
// flooding frames that miss the flows cannot push more than
// PacketInRate per second at Loom, whatever loomd does. The meter is
// set at connect, deleted first so a meter an earlier run left (or a
// different rate) is replaced; OVS handles the two in order.

// setControllerMeter sends the meter; the xid of the add is kept so a
// refusal (a datapath without meters) is reported as what it is.
func (s *session) setControllerMeter() {
	rate := s.c.cfg.PacketInRate
	if rate == 0 {
		return
	}
	_, _ = s.conn.Send(openflow.MeterMod{Command: openflow.MeterDelete, MeterID: openflow.MeterController})
	xid, err := s.conn.Send(openflow.MeterMod{Command: openflow.MeterAdd, MeterID: openflow.MeterController,
		Flags: openflow.MeterFlagPktps | openflow.MeterFlagBurst | openflow.MeterFlagStats, Rate: rate, Burst: rate})
	if err == nil {
		s.meterXid = xid
	}
}

// meterRefused reports the switch refusing the controller meter.
func (s *session) meterRefused(e *openflow.ErrorMsg) bool {
	if s.meterXid == 0 || e.Xid != s.meterXid {
		return false
	}
	s.log.WithFields(logrus.Fields{"error": openflow.ErrorName(e.ErrType, e.Code), "packet_in_rate": s.c.cfg.PacketInRate}).Warn(
		"the switch refused the packet-in meter; its packet-ins are limited only by loomd's queue")
	return true
}
