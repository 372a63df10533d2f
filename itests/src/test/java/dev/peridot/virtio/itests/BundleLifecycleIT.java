package dev.peridot.virtio.itests;

import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertNull;
import static org.junit.Assert.assertTrue;

import dev.peridot.virtio.device.LifeCycleOperations;
import dev.peridot.virtio.feature.FeatureSet;
import dev.peridot.virtio.testkit.DriverQueue;
import dev.peridot.virtio.transport.mmio.MmioDeviceAccess;
import dev.peridot.virtio.transport.mmio.MmioRegisters;
import java.util.List;
import org.junit.Test;
import org.junit.runner.RunWith;
import org.ops4j.pax.exam.junit.PaxExam;
import org.ops4j.pax.exam.spi.reactors.ExamReactorStrategy;
import org.ops4j.pax.exam.spi.reactors.PerMethod;
import org.osgi.framework.Bundle;

/**
 * HD-51: stopping, updating or uninstalling the console bundle while the driver has I/O in
 * flight unbinds cleanly — no exception escapes, the slot reads as empty, the live thread count
 * returns to its earlier value — and starting or reinstalling binds it again for a fresh driver.
 * The same for the feature-defaults bundle, which every console needs.
 */
@RunWith(PaxExam.class)
@ExamReactorStrategy(PerMethod.class)
public class BundleLifecycleIT extends PeridotTestSupport {

    private enum Action { STOP, UPDATE, UNINSTALL }

    @Test
    public void stopWithIoInFlight() throws Exception {
        cycle(Action.STOP);
    }

    @Test
    public void updateWithIoInFlight() throws Exception {
        cycle(Action.UPDATE);
    }

    @Test
    public void uninstallWithIoInFlight() throws Exception {
        cycle(Action.UNINSTALL);
    }

    private void cycle(Action action) throws Exception {
        warmUp();
        int threadsBefore = liveThreads();
        createConsole("life0", "port0.buffer.from.guest", 4096);
        MmioDeviceAccess window = window("life0");
        Guest guest = guest(window, 2);
        List<DriverQueue> queues = guest.driver.initialize(FeatureSet.of(32), 2, 64);
        for (int i = 0; i < 8; i++) {
            queues.get(0).addInbound(256);
        }
        queues.get(0).kick();
        for (int i = 0; i < 4; i++) {
            queues.get(1).addOutbound(new byte[4096]); // Nobody reads the memory backend: these back up.
        }
        queues.get(1).kick();
        guest.driver.awaitCompletions(queues.get(1), 1, TIMEOUT_MILLIS);
        assertTrue("buffers are in flight", queues.get(1).inFlight() > 0);

        Bundle console = installedBundle(CONSOLE_BUNDLE);
        String location = console.getLocation();
        switch (action) {
            case STOP -> console.stop();
            case UPDATE -> console.update();
            case UNINSTALL -> {
                console.uninstall();
                refreshPackages();
            }
        }
        if (action != Action.UPDATE) {
            awaitGone(MmioDeviceAccess.class, named("life0"));
            assertNull(find(LifeCycleOperations.class, named("life0")));
        }
        // The old window: an empty slot, and the driver's accesses throw nothing.
        assertEquals(0, window.read(MmioRegisters.DEVICE_ID, 4));
        assertEquals(MmioRegisters.MAGIC, window.read(MmioRegisters.MAGIC_VALUE, 4));
        window.write(MmioRegisters.QUEUE_NOTIFY, 4, 1);
        window.write(MmioRegisters.STATUS, 4, 0);
        guest.close();
        if (action != Action.UPDATE) {
            int after = awaitThreads(threadsBefore);
            assertEquals("live threads after the device went away", threadsBefore, after);
        }
        switch (action) {
            case STOP -> console.start();
            case UPDATE -> { }
            case UNINSTALL -> context.installBundle(location).start();
        }
        provesUsable("life0", 3);
    }

    @Test
    public void stoppingTheDefaultsBundleTakesConsolesAwayAndStartingItBringsThemBack() throws Exception {
        createConsole("dflt0");
        provesUsable("dflt0", 2);
        Bundle defaults = installedBundle("dev.peridot.virtio.feature.defaults");
        defaults.stop();
        awaitGone(LifeCycleOperations.class, named("dflt0"));
        awaitGone(MmioDeviceAccess.class, named("dflt0"));
        defaults.start();
        provesUsable("dflt0", 3);
    }

    /** Creates and removes a console once, so lazily started framework threads are counted in the baseline. */
    private void warmUp() throws Exception {
        var config = createConsole("warm0");
        provesUsable("warm0", 1);
        config.delete();
        awaitGone(MmioDeviceAccess.class, named("warm0"));
        Thread.sleep(200);
    }
}
