package dev.peridot.virtio.device;

/**
 * The life states of a 'Virtio Device' (VD01 §2): the phases the driver walks through with the
 * status field (spec 3.1), plus the internal RESET_UNDERWAY.
 *
 * <p>Valid transitions (a driver write that breaks them does not latch, see
 * {@link VirtioDevice#writeStatus(int)}):
 * <pre>
 *   INIT ─► ACKNOWLEDGE ─► DRIVER ─► FEATURES_OK ─► DRIVER_OK
 *   any state ─► FAILED (sticky until reset)
 *   any state ─► DEVICE_NEEDS_RESET (set by the device only)
 *   any state ─(driver writes 0)─► RESET_UNDERWAY ─(reset finished)─► INIT
 * </pre>
 */
public enum DeviceState {
    /** Status 0: fresh or reset. */
    INIT,
    /** The guest found the device. */
    ACKNOWLEDGE,
    /** The guest has a driver for it. */
    DRIVER,
    /** Features negotiated; queues are being set up. */
    FEATURES_OK,
    /** The device is live. */
    DRIVER_OK,
    /** The driver gave up; nothing happens until a reset. */
    FAILED,
    /** The device hit an error it cannot recover from; nothing happens until a reset. */
    DEVICE_NEEDS_RESET,
    /** The driver wrote 0; Status still shows its old value until the reset has finished. */
    RESET_UNDERWAY;

    /** The state a status value and the "reset underway" flag describe. */
    public static DeviceState of(int status, boolean resetUnderway) {
        if (resetUnderway) {
            return RESET_UNDERWAY;
        }
        if ((status & DeviceStatus.FAILED) != 0) {
            return FAILED;
        }
        if ((status & DeviceStatus.DEVICE_NEEDS_RESET) != 0) {
            return DEVICE_NEEDS_RESET;
        }
        if ((status & DeviceStatus.DRIVER_OK) != 0) {
            return DRIVER_OK;
        }
        if ((status & DeviceStatus.FEATURES_OK) != 0) {
            return FEATURES_OK;
        }
        if ((status & DeviceStatus.DRIVER) != 0) {
            return DRIVER;
        }
        if ((status & DeviceStatus.ACKNOWLEDGE) != 0) {
            return ACKNOWLEDGE;
        }
        return INIT;
    }
}
