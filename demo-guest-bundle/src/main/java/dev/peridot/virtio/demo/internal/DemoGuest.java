package dev.peridot.virtio.demo.internal;

import dev.peridot.virtio.feature.FeatureSet;
import dev.peridot.virtio.testkit.DriverException;
import dev.peridot.virtio.testkit.DriverQueue;
import dev.peridot.virtio.testkit.GuestRamAllocator;
import dev.peridot.virtio.testkit.VirtioMmioDriver;
import dev.peridot.virtio.transport.mmio.MmioDeviceAccess;
import dev.peridot.virtio.transport.mmio.MmioRegisters;

/**
 * The guest side of the demo: the test kit's driver brings a console to DRIVER_OK (port 0
 * only: it does not negotiate MULTIPORT), keeps receive buffers posted, and sends back every
 * byte it receives. Runs on its own thread until stopped or until the device goes away.
 */
final class DemoGuest implements Runnable {

    private static final System.Logger LOG = System.getLogger(DemoGuest.class.getName());
    /** What the demo guest accepts: VERSION_1, EVENT_IDX, INDIRECT_DESC and the console's SIZE. */
    private static final FeatureSet WANTED = FeatureSet.of(0, 28, 29, 32);

    private final VirtioMmioDriver driver;
    private final int receiveBuffers;
    private final int bufferSize;
    private volatile boolean running = true;
    private long echoedBytes;

    DemoGuest(MmioDeviceAccess window, GuestRamAllocator ram, int receiveBuffers, int bufferSize) {
        this.driver = new VirtioMmioDriver(window, ram);
        this.receiveBuffers = receiveBuffers;
        this.bufferSize = bufferSize;
    }

    VirtioMmioDriver driver() {
        return driver;
    }

    void stop() {
        running = false;
    }

    @Override
    public void run() {
        try {
            var queues = driver.initialize(WANTED, 2, 64);
            DriverQueue rx = queues.get(0);
            DriverQueue tx = queues.get(1);
            for (int i = 0; i < receiveBuffers; i++) {
                rx.addInbound(bufferSize);
            }
            rx.kick();
            LOG.log(System.Logger.Level.INFO, "[demo guest] " + driver.window().deviceName()
                    + " is at DRIVER_OK (features " + driver.negotiatedFeatures() + "); echoing port 0");
            while (running && driver.window().isBound()) {
                if (!driver.awaitInterrupt(200)) {
                    continue;
                }
                int status = driver.handleInterrupt();
                if ((status & MmioRegisters.INTERRUPT_CONFIG_CHANGE) != 0) {
                    int cols = driver.readConfig(0, 2);
                    int rows = driver.readConfig(2, 2);
                    LOG.log(System.Logger.Level.INFO, "[demo guest] console size is now " + cols + "x" + rows);
                }
                tx.harvest();
                int reposts = 0;
                for (DriverQueue.Completion c : rx.harvest()) {
                    if (c.length() > 0) {
                        while (tx.inFlight() >= tx.size()) {
                            driver.awaitCompletions(tx, 1, 5000);
                        }
                        tx.addOutbound(c.data());
                        echoedBytes += c.length();
                    }
                    reposts++;
                }
                if (reposts > 0) {
                    tx.kick();
                    for (int i = 0; i < reposts; i++) {
                        rx.addInbound(bufferSize);
                    }
                    rx.kick();
                }
            }
        } catch (DriverException | IllegalStateException e) {
            if (running && driver.window().isBound()) {
                LOG.log(System.Logger.Level.WARNING, "[demo guest] stopped: " + e.getMessage());
            }
        } finally {
            LOG.log(System.Logger.Level.INFO, "[demo guest] done, " + echoedBytes + " bytes echoed");
        }
    }
}
