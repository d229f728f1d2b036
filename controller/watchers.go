package controller

// maxWatchers bounds the API's open watch streams (topology and
// packet-ins together), and maxPacketWatchers the packet-in ones (each
// may hold packetSubBytes of frames): any number of clients that open
// watches and never read must not grow loomd without bound.
const (
	maxWatchers       = 4096
	maxPacketWatchers = 256
)

// admitWatcher counts a new stream in, or refuses it.
func (c *Controller) admitWatcher(packets bool) (release func(), err error) {
	if c.watchers.Add(1) > maxWatchers {
		c.watchers.Add(-1)
		return nil, ErrTooManyWatchers
	}
	if !packets {
		return func() { c.watchers.Add(-1) }, nil
	}
	if c.packetWatchers.Add(1) > maxPacketWatchers {
		c.packetWatchers.Add(-1)
		c.watchers.Add(-1)
		return nil, ErrTooManyWatchers
	}
	return func() { c.packetWatchers.Add(-1); c.watchers.Add(-1) }, nil
}
