package dev.peridot.virtio.fuzz.support;

import dev.peridot.virtio.transport.mmio.DriverNotificationSink;

/** An interrupt sink that checks that the line level it is told always follows InterruptStatus. */
public final class LineWatch implements DriverNotificationSink {

    private volatile String problem;

    @Override
    public void interruptChanged(int slot, int irq, boolean asserted, int interruptStatus) {
        if (asserted != (interruptStatus != 0) && problem == null) {
            problem = "sink told asserted=" + asserted + " with InterruptStatus 0x" + Integer.toHexString(interruptStatus);
        }
    }

    /** Fails with a finding if the sink was told something inconsistent since the last check. */
    public void check() {
        String p = problem;
        problem = null;
        Oracle.check(p == null, p);
    }
}
