package dev.peridot.virtio.fuzz.support;

import dev.peridot.virtio.device.DeviceStatus;
import dev.peridot.virtio.device.VirtioDevice;
import java.util.concurrent.locks.LockSupport;

/**
 * Status as the driver reads it: a valid combination of bits (DRIVER needs ACKNOWLEDGE,
 * FEATURES_OK needs DRIVER, DRIVER_OK needs FEATURES_OK, never the undefined bits),
 * DEVICE_NEEDS_RESET only with a device-side reason, and bits only go away through a reset —
 * in particular Status never reads 0 unless a reset happened. A reset is recognized by the
 * device's counter of completed resets, so the watch does not need to know which driver step
 * wrote Status=0.
 */
public final class StatusWatch {

    private int last;
    private long lastResets = -1;

    /** Forgets the history (a new input starts after a completed reset). */
    public void begin() {
        last = 0;
        lastResets = -1;
    }

    /** Reads Status through {@code read} between two looks at the reset counter, and checks it. */
    public int observe(java.util.function.IntSupplier read, VirtioDevice device) {
        long before = device.statistics().resets();
        int s = read.getAsInt();
        long after = device.statistics().resets();
        observe(s, before, after, device);
        return s;
    }

    private void observe(int s, long resetsBeforeRead, long resetsAfterRead, VirtioDevice device) {
        String hex = "0x" + Integer.toHexString(s);
        Oracle.check((s & ~0xFF) == 0 && (s & 0x30) == 0, "Status has undefined bits: " + hex);
        Oracle.check((s & DeviceStatus.DRIVER) == 0 || (s & DeviceStatus.ACKNOWLEDGE) != 0,
                "Status DRIVER without ACKNOWLEDGE: " + hex);
        Oracle.check((s & DeviceStatus.FEATURES_OK) == 0 || (s & DeviceStatus.DRIVER) != 0,
                "Status FEATURES_OK without DRIVER: " + hex);
        Oracle.check((s & DeviceStatus.DRIVER_OK) == 0 || (s & DeviceStatus.FEATURES_OK) != 0,
                "Status DRIVER_OK without FEATURES_OK: " + hex);
        if ((s & DeviceStatus.DEVICE_NEEDS_RESET) != 0) {
            Oracle.check(device.needsResetReason().isPresent() || device.isResetUnderway()
                    || resetsAfterRead != resetsBeforeRead || device.statistics().resets() != resetsBeforeRead,
                    "DEVICE_NEEDS_RESET without a device-side reason: " + hex);
        }
        if (lastResets < 0) {
            lastResets = resetsBeforeRead;
        }
        if (resetsAfterRead != resetsBeforeRead) {
            last = 0; // A reset finished while Status was read: it may show either side.
            lastResets = resetsAfterRead;
            return;
        }
        if (resetsBeforeRead != lastResets) {
            last = 0; // A reset finished since the last look.
            lastResets = resetsBeforeRead;
        }
        if ((s & last) != last) {
            // The counter is bumped just after Status returns to 0: look again before calling it a finding.
            LockSupport.parkNanos(2_000_000);
            if (device.statistics().resets() != lastResets) {
                last = 0;
                lastResets = device.statistics().resets();
                return;
            }
        }
        Oracle.check((s & last) == last, "Status lost bits without a reset: 0x" + Integer.toHexString(last) + " -> " + hex);
        last = s;
    }
}
