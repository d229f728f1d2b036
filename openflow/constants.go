package openflow

import ofp "github.com/contiv/libOpenflow/openflow13"

// Version is the only OpenFlow version Loom speaks.
const Version = ofp.VERSION // 0x04, OpenFlow 1.3

// Message types (ofp_type).
const (
	TypeHello           = ofp.Type_Hello
	TypeError           = ofp.Type_Error
	TypeEchoRequest     = ofp.Type_EchoRequest
	TypeEchoReply       = ofp.Type_EchoReply
	TypeExperimenter    = ofp.Type_Experimenter
	TypeFeaturesRequest = ofp.Type_FeaturesRequest
	TypeFeaturesReply   = ofp.Type_FeaturesReply
	TypeGetConfigReply  = ofp.Type_GetConfigReply
	TypeSetConfig       = ofp.Type_SetConfig
	TypePacketIn        = ofp.Type_PacketIn
	TypeFlowRemoved     = ofp.Type_FlowRemoved
	TypePortStatus      = ofp.Type_PortStatus
	TypePacketOut       = ofp.Type_PacketOut
	TypeFlowMod         = ofp.Type_FlowMod
	TypeMultipartReq    = ofp.Type_MultiPartRequest
	TypeMultipartReply  = ofp.Type_MultiPartReply
	TypeBarrierRequest  = ofp.Type_BarrierRequest
	TypeBarrierReply    = ofp.Type_BarrierReply
	TypeRoleRequest     = ofp.Type_RoleRequest
	TypeRoleReply       = ofp.Type_RoleReply
	TypeGetAsyncRequest = ofp.Type_GetAsyncRequest
	TypeGetAsyncReply   = ofp.Type_GetAsyncReply
	TypeSetAsync        = ofp.Type_SetAsync
	TypeMeterMod        = ofp.Type_MeterMod
)

// Multipart types used by Loom.
const (
	MultipartDesc     = ofp.MultipartType_Desc
	MultipartFlow     = ofp.MultipartType_Flow
	MultipartPortDesc = ofp.MultipartType_PortDesc
	multipartMore     = ofp.OFPMPF_REPLY_MORE
)

// Reserved port numbers (ofp_port_no).
const (
	PortMax        uint32 = ofp.P_MAX
	PortInPort     uint32 = ofp.P_IN_PORT
	PortTable      uint32 = ofp.P_TABLE
	PortNormal     uint32 = ofp.P_NORMAL
	PortFlood      uint32 = ofp.P_FLOOD
	PortAll        uint32 = ofp.P_ALL
	PortController uint32 = ofp.P_CONTROLLER
	PortLocal      uint32 = ofp.P_LOCAL
	PortAny        uint32 = ofp.P_ANY
)

// Other wire constants.
const (
	NoBuffer      uint32 = 0xffffffff
	GroupAny      uint32 = 0xffffffff
	ControllerMax uint16 = 0xffff // ofp_controller_max_len OFPCML_NO_BUFFER
	TableAll      uint8  = 0xff

	FlowAdd          = ofp.FC_ADD
	FlowModify       = ofp.FC_MODIFY
	FlowModifyStrict = ofp.FC_MODIFY_STRICT
	FlowDelete       = ofp.FC_DELETE
	FlowDeleteStrict = ofp.FC_DELETE_STRICT

	InstrGotoTable     = ofp.InstrType_GOTO_TABLE
	InstrWriteMetadata = ofp.InstrType_WRITE_METADATA
	InstrWriteActions  = ofp.InstrType_WRITE_ACTIONS
	InstrApplyActions  = ofp.InstrType_APPLY_ACTIONS
	InstrClearActions  = ofp.InstrType_CLEAR_ACTIONS
	InstrMeter         = ofp.InstrType_METER

	ActionOutput   = ofp.ActionType_Output
	ActionPushVlan = ofp.ActionType_PushVlan
	ActionPopVlan  = ofp.ActionType_PopVlan
	ActionGroup    = ofp.ActionType_Group
	ActionSetField = ofp.ActionType_SetField

	OXMClassBasic        = ofp.OXM_CLASS_OPENFLOW_BASIC
	OXMClassExperimenter = ofp.OXM_CLASS_EXPERIMENTER

	ErrHelloFailed    = ofp.ET_HELLO_FAILED
	ErrBadRequest     = ofp.ET_BAD_REQUEST
	HelloIncompatible = ofp.HFC_INCOMPATIBLE
	BadRequestBadType = ofp.BRC_BAD_TYPE
	BadRequestBadLen  = ofp.BRC_BAD_LEN
	BadRequestIsSlave = ofp.BRC_IS_SLAVE
	// ErrRoleRequestFailed/RoleStale: a MASTER request whose generation id
	// is older than one the switch has seen (OFPRRFC_STALE).
	ErrRoleRequestFailed = ofp.ET_ROLE_REQUEST_FAILED
	RoleStale            = 0
	PortReasonAdd        = ofp.PR_ADD
	PortReasonDelete     = ofp.PR_DELETE
	PortReasonModify     = ofp.PR_MODIFY
	PortStateLinkDown    = ofp.PS_LINK_DOWN
	PortConfigDown       = ofp.PC_PORT_DOWN
	PacketInNoMatch      = ofp.R_NO_MATCH
	PacketInAction       = ofp.R_ACTION
	ONFExperimenterID    = ofp.ONF_EXPERIMENTER_ID
	ConfigFragNormal     = ofp.C_FRAG_NORMAL
	FlowFlagSendRemove   = ofp.FF_SEND_FLOW_REM
)

// Controller roles (ofp_controller_role); libOpenflow has no role messages.
const (
	RoleNoChange uint32 = 0
	RoleEqual    uint32 = 1
	RoleMaster   uint32 = 2
	RoleSlave    uint32 = 3
)

// OXM basic field numbers Loom builds matches from.
const (
	OXMInPort   uint8 = ofp.OXM_FIELD_IN_PORT
	OXMEthDst   uint8 = ofp.OXM_FIELD_ETH_DST
	OXMEthSrc   uint8 = ofp.OXM_FIELD_ETH_SRC
	OXMEthType  uint8 = ofp.OXM_FIELD_ETH_TYPE
	OXMVlanVID  uint8 = ofp.OXM_FIELD_VLAN_VID
	OXMIPProto  uint8 = ofp.OXM_FIELD_IP_PROTO
	OXMIPv4Src  uint8 = ofp.OXM_FIELD_IPV4_SRC
	OXMIPv4Dst  uint8 = ofp.OXM_FIELD_IPV4_DST
	OXMTunnelID uint8 = ofp.OXM_FIELD_TUNNEL_ID
	OXMMetadata uint8 = ofp.OXM_FIELD_METADATA
)
