package dev.peridot.virtio.console;

/**
 * What a port does when its guest-to-host buffer is full because the backend does not take the
 * data fast enough (or is not connected).
 */
public enum OverflowPolicy {

    /**
     * The default: the guest's transmit buffers stay in the ring (a partly copied buffer stays in
     * flight) until the backend has drained space. Nothing is ever dropped; the guest is slowed
     * down (a Linux hvc console spins in {@code put_chars} until its buffer comes back).
     */
    BACKPRESSURE,

    /**
     * For log-only ports: the device always takes the guest's buffers and, when the buffer is
     * full, discards the oldest buffered bytes; the discarded bytes are counted
     * ({@link PortInfo#droppedBytes()}). The guest is never slowed down.
     */
    DROP_OLDEST;

    /** Parses {@code backpressure} or {@code drop_oldest} (case-insensitive, '-' accepted for '_'). */
    public static OverflowPolicy parse(String text) {
        String t = text.trim().toLowerCase(java.util.Locale.ROOT).replace('-', '_');
        return switch (t) {
            case "backpressure", "back_pressure", "" -> BACKPRESSURE;
            case "drop_oldest" -> DROP_OLDEST;
            default -> throw new IllegalArgumentException("overflow must be 'backpressure' or 'drop_oldest', not '" + text + "'");
        };
    }

    /** The configuration spelling: {@code backpressure} or {@code drop_oldest}. */
    public String configName() {
        return name().toLowerCase(java.util.Locale.ROOT);
    }
}
