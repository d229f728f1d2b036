package openflow

import "testing"

func TestErrorNamesFollowTheSpec(t *testing.T) {
	for _, c := range []struct {
		t, code uint16
		want    string
	}{
		{3, 2, "OFPBIC_BAD_TABLE_ID (BAD_INSTRUCTION/code 2)"},
		{1, 10, "OFPBRC_IS_SLAVE (BAD_REQUEST/code 10)"},
		{2, 10, "OFPBAC_MATCH_INCONSISTENT (BAD_ACTION/code 10)"},
		{4, 42, "BAD_MATCH/code 42"},
		{99, 1, "type(99)/code 1"},
	} {
		if got := ErrorName(c.t, c.code); got != c.want {
			t.Errorf("ErrorName(%d, %d) = %q, want %q", c.t, c.code, got, c.want)
		}
	}
}
