package dev.peridot.virtio.transport.vhostuser.internal;

/**
 * Constants of the vhost-user protocol (QEMU {@code docs/interop/vhost-user.rst}, "Message
 * specification" and "Front-end message types"): message header fields, request codes, the
 * feature bit the transport owns and the protocol features.
 */
public final class VhostUserProtocol {

    /** Header: u32 request, u32 flags, u32 size of the payload that follows. */
    public static final int HEADER_SIZE = 12;
    /** Flags bits 0-1: the protocol version, 0x1. */
    public static final int VERSION = 0x1;
    public static final int VERSION_MASK = 0x3;
    /** Flags bit 2: the message is a reply. */
    public static final int FLAG_REPLY = 0x4;
    /** Flags bit 3: the front-end wants a REPLY_ACK answer. */
    public static final int FLAG_NEED_REPLY = 0x8;
    /** Every flag bit the spec defines; the others are reserved and must be 0. */
    public static final int KNOWN_FLAGS = VERSION_MASK | FLAG_REPLY | FLAG_NEED_REPLY;

    /**
     * The largest payload any message we accept carries: GET/SET_CONFIG, 12 bytes of header
     * fields plus {@link #MAX_CONFIG_SIZE} bytes. SET_MEM_TABLE with 8 regions is 264 bytes.
     */
    public static final int MAX_PAYLOAD = 12 + 256;
    /** VHOST_USER_MAX_CONFIG_SIZE. */
    public static final int MAX_CONFIG_SIZE = 256;
    /** VHOST_MEMORY_BASELINE_NREGIONS: regions (and so descriptors) in one SET_MEM_TABLE. */
    public static final int MAX_MEMORY_REGIONS = 8;
    /** The most descriptors one message may carry. */
    public static final int MAX_FDS = MAX_MEMORY_REGIONS;
    /** Size of one region in SET_MEM_TABLE: guest address, size, user address, mmap offset (u64 each). */
    public static final int MEMORY_REGION_SIZE = 32;

    /** Vring descriptor messages (KICK/CALL/ERR): bits 0-7 the index, bit 8 "no descriptor attached". */
    public static final long VRING_INDEX_MASK = 0xFF;
    public static final long VRING_NOFD_MASK = 0x100;

    /** Feature bit 30: the front-end may use GET/SET_PROTOCOL_FEATURES. Owned by the transport, never shown to the device. */
    public static final int F_PROTOCOL_FEATURES = 30;

    /** Protocol feature bit 0: multiple queues, GET_QUEUE_NUM. */
    public static final int PROTOCOL_F_MQ = 0;
    /** Protocol feature bit 3: the back-end answers every request flagged NEED_REPLY. */
    public static final int PROTOCOL_F_REPLY_ACK = 3;
    /** Protocol feature bit 9: GET_CONFIG / SET_CONFIG. */
    public static final int PROTOCOL_F_CONFIG = 9;

    /**
     * The protocol features this back-end offers: exactly the ones implemented. Memory slots
     * (CONFIGURE_MEM_SLOTS), the back-end request channel (BACKEND_REQ), dirty logging
     * (LOG_SHMFD), in-flight tracking and STATUS are not offered, so QEMU never sends their
     * messages and uses SET_MEM_TABLE for memory.
     */
    public static final long SUPPORTED_PROTOCOL_FEATURES =
            (1L << PROTOCOL_F_MQ) | (1L << PROTOCOL_F_REPLY_ACK) | (1L << PROTOCOL_F_CONFIG);

    public static final int GET_FEATURES = 1;
    public static final int SET_FEATURES = 2;
    public static final int SET_OWNER = 3;
    public static final int RESET_OWNER = 4;
    public static final int SET_MEM_TABLE = 5;
    public static final int SET_LOG_BASE = 6;
    public static final int SET_LOG_FD = 7;
    public static final int SET_VRING_NUM = 8;
    public static final int SET_VRING_ADDR = 9;
    public static final int SET_VRING_BASE = 10;
    public static final int GET_VRING_BASE = 11;
    public static final int SET_VRING_KICK = 12;
    public static final int SET_VRING_CALL = 13;
    public static final int SET_VRING_ERR = 14;
    public static final int GET_PROTOCOL_FEATURES = 15;
    public static final int SET_PROTOCOL_FEATURES = 16;
    public static final int GET_QUEUE_NUM = 17;
    public static final int SET_VRING_ENABLE = 18;
    public static final int GET_CONFIG = 24;
    public static final int SET_CONFIG = 25;

    private static final String[] NAMES = new String[64];

    static {
        NAMES[GET_FEATURES] = "GET_FEATURES";
        NAMES[SET_FEATURES] = "SET_FEATURES";
        NAMES[SET_OWNER] = "SET_OWNER";
        NAMES[RESET_OWNER] = "RESET_OWNER";
        NAMES[SET_MEM_TABLE] = "SET_MEM_TABLE";
        NAMES[SET_LOG_BASE] = "SET_LOG_BASE";
        NAMES[SET_LOG_FD] = "SET_LOG_FD";
        NAMES[SET_VRING_NUM] = "SET_VRING_NUM";
        NAMES[SET_VRING_ADDR] = "SET_VRING_ADDR";
        NAMES[SET_VRING_BASE] = "SET_VRING_BASE";
        NAMES[GET_VRING_BASE] = "GET_VRING_BASE";
        NAMES[SET_VRING_KICK] = "SET_VRING_KICK";
        NAMES[SET_VRING_CALL] = "SET_VRING_CALL";
        NAMES[SET_VRING_ERR] = "SET_VRING_ERR";
        NAMES[GET_PROTOCOL_FEATURES] = "GET_PROTOCOL_FEATURES";
        NAMES[SET_PROTOCOL_FEATURES] = "SET_PROTOCOL_FEATURES";
        NAMES[GET_QUEUE_NUM] = "GET_QUEUE_NUM";
        NAMES[SET_VRING_ENABLE] = "SET_VRING_ENABLE";
        NAMES[19] = "SEND_RARP";
        NAMES[20] = "NET_SET_MTU";
        NAMES[21] = "SET_BACKEND_REQ_FD";
        NAMES[22] = "IOTLB_MSG";
        NAMES[23] = "SET_VRING_ENDIAN";
        NAMES[GET_CONFIG] = "GET_CONFIG";
        NAMES[SET_CONFIG] = "SET_CONFIG";
        NAMES[31] = "GET_INFLIGHT_FD";
        NAMES[32] = "SET_INFLIGHT_FD";
        NAMES[34] = "RESET_DEVICE";
        NAMES[36] = "GET_MAX_MEM_SLOTS";
        NAMES[37] = "ADD_MEM_REG";
        NAMES[38] = "REM_MEM_REG";
        NAMES[39] = "SET_STATUS";
        NAMES[40] = "GET_STATUS";
    }

    private VhostUserProtocol() {
    }

    /** The spec's name of a request code, e.g. {@code SET_MEM_TABLE(5)}. */
    public static String name(int request) {
        String n = request >= 0 && request < NAMES.length ? NAMES[request] : null;
        return (n == null ? "UNKNOWN" : n) + "(" + request + ")";
    }
}
