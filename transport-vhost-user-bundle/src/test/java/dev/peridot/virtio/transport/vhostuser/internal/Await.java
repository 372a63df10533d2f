package dev.peridot.virtio.transport.vhostuser.internal;

import java.util.concurrent.locks.LockSupport;
import java.util.function.BooleanSupplier;

/**
 * (A copy of core-bundle's test support.) Waits for something the device's worker thread does. The timeout only keeps a broken build
 * from hanging; no test asserts on timing.
 */
public final class Await {

    public static final long TIMEOUT_MILLIS = 10_000;

    private Await() {
    }

    public static void until(BooleanSupplier condition, String what) {
        long deadline = System.nanoTime() + TIMEOUT_MILLIS * 1_000_000L;
        while (!condition.getAsBoolean()) {
            if (System.nanoTime() > deadline) {
                throw new AssertionError("timed out waiting for: " + what);
            }
            LockSupport.parkNanos(100_000);
        }
    }

    /** Gives the worker time to do something it must not do, for negative checks. */
    public static void settle() {
        LockSupport.parkNanos(50_000_000L);
    }
}
