package dev.peridot.virtio.feature;

import java.util.Optional;

/**
 * The device-independent feature bits of VIRTIO 1.2 chapter 6 ("Reserved Feature Bits"),
 * including the legacy ones of 6.3, with the bit numbers of the spec.
 *
 * <p>Bits 24 to 40 are reserved for extensions to the queue and feature negotiation
 * mechanisms, 41 to 49 and 128 and above for future extensions (spec 2.2).
 */
public enum ReservedFeature implements Feature {
    /** Legacy (6.3): notify when the device runs out of available descriptors. */
    VIRTIO_F_NOTIFY_ON_EMPTY(24),
    /** Legacy (6.3): the device accepts any descriptor layout. */
    VIRTIO_F_ANY_LAYOUT(27),
    /** The driver may use VIRTQ_DESC_F_INDIRECT (2.7.5.3). */
    VIRTIO_F_INDIRECT_DESC(28),
    /** Enables used_event and avail_event (2.7.7, 2.7.10). */
    VIRTIO_F_EVENT_IDX(29),
    /** Legacy (6.3) bit 30, "UNUSED" in the spec, VIRTIO_F_BAD_FEATURE in QEMU: never to be negotiated. */
    VIRTIO_F_UNUSED(30),
    /** Compliance with VIRTIO 1.x: the non-legacy interface. */
    VIRTIO_F_VERSION_1(32),
    /** Device memory access is limited or translated by the platform (IOMMU). */
    VIRTIO_F_ACCESS_PLATFORM(33),
    /** Packed virtqueue layout (2.8). */
    VIRTIO_F_RING_PACKED(34),
    /** Buffers are used in the order they were made available. */
    VIRTIO_F_IN_ORDER(35),
    /** Memory accesses are ordered as the platform describes for hardware devices. */
    VIRTIO_F_ORDER_PLATFORM(36),
    /** PCI single-root I/O virtualization; never on MMIO. */
    VIRTIO_F_SR_IOV(37),
    /** Driver notifications carry extra data (2.9). */
    VIRTIO_F_NOTIFICATION_DATA(38),
    /** The driver uses device-provided data as queue identifier in notifications (PCI only in 1.2). */
    VIRTIO_F_NOTIF_CONFIG_DATA(39),
    /** The driver can reset a queue individually (2.6.1). */
    VIRTIO_F_RING_RESET(40);

    /** First bit of the device-independent range (spec 2.2). */
    public static final int FIRST_RESERVED_BIT = 24;
    /** Last bit of the range for queue and feature-negotiation extensions (spec 2.2). */
    public static final int LAST_TRANSPORT_BIT = 40;
    /** Last bit that is reserved for future extensions below the device-type range 50-127. */
    public static final int LAST_RESERVED_BIT = 49;

    private final int bit;

    ReservedFeature(int bit) {
        this.bit = bit;
    }

    @Override
    public int bit() {
        return bit;
    }

    /** Whether {@code bit} lies in a device-independent range (24-49 or 128 and above). */
    public static boolean isReservedBit(int bit) {
        return (bit >= FIRST_RESERVED_BIT && bit <= LAST_RESERVED_BIT) || bit >= FeatureSet.MAX_BITS;
    }

    /** Whether {@code bit} is in a device-type range (0-23 or 50-127). */
    public static boolean isDeviceTypeBit(int bit) {
        return bit >= 0 && bit < FeatureSet.MAX_BITS && !isReservedBit(bit);
    }

    /** The reserved feature with this bit number, if the spec names one. */
    public static Optional<ReservedFeature> ofBit(int bit) {
        for (ReservedFeature f : values()) {
            if (f.bit == bit) {
                return Optional.of(f);
            }
        }
        return Optional.empty();
    }
}
