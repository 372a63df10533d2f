package dev.peridot.virtio.itests;

import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertTrue;

import dev.peridot.virtio.transport.mmio.MmioDeviceAccess;
import java.lang.management.ManagementFactory;
import java.lang.management.MemoryPoolMXBean;
import org.junit.Test;
import org.junit.runner.RunWith;
import org.ops4j.pax.exam.junit.PaxExam;
import org.ops4j.pax.exam.spi.reactors.ExamReactorStrategy;
import org.ops4j.pax.exam.spi.reactors.PerMethod;
import org.osgi.framework.Bundle;

/**
 * 200 install/uninstall cycles of the console bundle, with a test-kit driver bringing the device
 * up and sending a buffer each time: no leaked threads, services or memory.
 *
 * <p>How it is measured: after 20 warm-up cycles (lazily created framework threads, JIT) the
 * live thread count, the number of registered services, the used heap after three
 * {@code System.gc()} calls, and the metaspace in use are recorded; after 180 more cycles they
 * are measured again. Threads and services must be equal; heap and metaspace may grow by noise
 * only — a leaked bundle class loader would cost about the console bundle's classes (a few
 * hundred KiB of metaspace) per cycle, i.e. tens of MiB over 180 cycles.
 */
@RunWith(PaxExam.class)
@ExamReactorStrategy(PerMethod.class)
public class ChurnIT extends PeridotTestSupport {

    private static final int WARM_UP = 20;
    private static final int CYCLES = 200;

    @Test
    public void installUninstallCycles() throws Exception {
        createConsole("churn0");
        String location = installedBundle(CONSOLE_BUNDLE).getLocation();
        long start = System.nanoTime();
        int threads = 0;
        int services = 0;
        long heap = 0;
        long metaspace = 0;
        for (int cycle = 1; cycle <= CYCLES; cycle++) {
            provesUsable("churn0", 1 + cycle % 4);
            Bundle console = installedBundle(CONSOLE_BUNDLE);
            console.uninstall();
            refreshPackages();
            awaitGone(MmioDeviceAccess.class, named("churn0"));
            if (cycle == WARM_UP) {
                threads = awaitThreads(Integer.MAX_VALUE);
                services = context.getAllServiceReferences(null, null).length;
                heap = usedHeapAfterGc();
                metaspace = metaspace();
            }
            context.installBundle(location).start();
        }
        Bundle console = installedBundle(CONSOLE_BUNDLE);
        console.uninstall();
        refreshPackages();
        awaitGone(MmioDeviceAccess.class, named("churn0"));
        int threadsAfter = awaitThreads(threads);
        int servicesAfter = context.getAllServiceReferences(null, null).length;
        long heapAfter = usedHeapAfterGc();
        long metaspaceAfter = metaspace();
        System.out.printf("ChurnIT: %d cycles in %d ms; after cycle %d vs the end: threads %d -> %d, services %d -> %d,"
                        + " heap %.1f -> %.1f MiB, metaspace %.1f -> %.1f MiB%n",
                CYCLES, (System.nanoTime() - start) / 1_000_000, WARM_UP, threads, threadsAfter, services, servicesAfter,
                heap / 1048576.0, heapAfter / 1048576.0, metaspace / 1048576.0, metaspaceAfter / 1048576.0);
        assertEquals("live threads", threads, threadsAfter);
        assertEquals("registered services", services, servicesAfter);
        assertTrue("heap grew by " + (heapAfter - heap) + " bytes", heapAfter - heap < 16L << 20);
        assertTrue("metaspace grew by " + (metaspaceAfter - metaspace) + " bytes (a class loader leak?)",
                metaspaceAfter - metaspace < 8L << 20);
        context.installBundle(location).start();
        provesUsable("churn0", 2);
    }

    private static long usedHeapAfterGc() throws InterruptedException {
        for (int i = 0; i < 3; i++) {
            System.gc();
            Thread.sleep(50);
        }
        return ManagementFactory.getMemoryMXBean().getHeapMemoryUsage().getUsed();
    }

    private static long metaspace() {
        for (MemoryPoolMXBean pool : ManagementFactory.getMemoryPoolMXBeans()) {
            if (pool.getName().equals("Metaspace")) {
                return pool.getUsage().getUsed();
            }
        }
        return 0;
    }
}
