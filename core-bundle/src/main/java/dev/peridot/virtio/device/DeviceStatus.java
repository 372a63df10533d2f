package dev.peridot.virtio.device;

import java.util.StringJoiner;

/**
 * The bits of the device status field (spec 2.1), as the driver reads and writes them.
 */
public final class DeviceStatus {

    /** The guest found the device. */
    public static final int ACKNOWLEDGE = 0x01;
    /** The guest knows how to drive the device. */
    public static final int DRIVER = 0x02;
    /** The driver is set up and ready to drive the device. */
    public static final int DRIVER_OK = 0x04;
    /** Feature negotiation is complete. */
    public static final int FEATURES_OK = 0x08;
    /** The device experienced an error from which it cannot recover (set by the device only). */
    public static final int DEVICE_NEEDS_RESET = 0x40;
    /** The driver gave up on the device. */
    public static final int FAILED = 0x80;

    /** The bits a driver may set; 0x10 and 0x20 are undefined in 1.2, 0x40 belongs to the device. */
    public static final int DRIVER_SETTABLE = ACKNOWLEDGE | DRIVER | DRIVER_OK | FEATURES_OK | FAILED;

    private DeviceStatus() {
    }

    /** The status as the names of its bits, for example {@code ACKNOWLEDGE|DRIVER}; {@code RESET(0)} for 0. */
    public static String describe(int status) {
        if (status == 0) {
            return "RESET(0)";
        }
        StringJoiner joiner = new StringJoiner("|");
        if ((status & ACKNOWLEDGE) != 0) {
            joiner.add("ACKNOWLEDGE");
        }
        if ((status & DRIVER) != 0) {
            joiner.add("DRIVER");
        }
        if ((status & FEATURES_OK) != 0) {
            joiner.add("FEATURES_OK");
        }
        if ((status & DRIVER_OK) != 0) {
            joiner.add("DRIVER_OK");
        }
        if ((status & DEVICE_NEEDS_RESET) != 0) {
            joiner.add("DEVICE_NEEDS_RESET");
        }
        if ((status & FAILED) != 0) {
            joiner.add("FAILED");
        }
        int unknown = status & ~(DRIVER_SETTABLE | DEVICE_NEEDS_RESET);
        if (unknown != 0) {
            joiner.add(String.format("0x%02x", unknown));
        }
        return joiner.toString();
    }
}
