package dev.peridot.virtio.shell.internal;

import dev.peridot.virtio.device.LifeCycleOperations;
import dev.peridot.virtio.device.VirtioDeviceProperties;
import java.lang.management.ManagementFactory;
import java.util.concurrent.TimeUnit;
import org.apache.felix.service.command.Descriptor;
import org.osgi.framework.BundleContext;
import org.osgi.framework.InvalidSyntaxException;
import org.osgi.framework.ServiceReference;
import org.osgi.service.component.annotations.Activate;
import org.osgi.service.component.annotations.Component;

/** {@code peridot:*}: waiting for devices (hot deploy, scripts) and the runtime's own figures. */
@Component(service = PeridotCommands.class, property = {
        "osgi.command.scope=peridot",
        "osgi.command.function=await",
        "osgi.command.function=awaitgone",
        "osgi.command.function=uptime"})
public final class PeridotCommands {

    private final BundleContext context;

    @Activate
    public PeridotCommands(BundleContext context) {
        this.context = context;
    }

    @Descriptor("Wait until a device is registered and bound to a transport; prints how long that took")
    public Report<Long> await(@Descriptor("device name") String name,
                              @Descriptor("timeout in milliseconds") long timeoutMillis) throws InterruptedException {
        long waited = awaitBound(name, timeoutMillis);
        return new Report<>(String.format("%s bound after %d ms%n", name, waited), waited);
    }

    @Descriptor("Wait until a device is registered and bound to a transport (10 s at most)")
    public Report<Long> await(@Descriptor("device name") String name) throws InterruptedException {
        return await(name, 10_000);
    }

    @Descriptor("Wait until a device has gone away; prints how long that took")
    public Report<Long> awaitgone(@Descriptor("device name") String name,
                                  @Descriptor("timeout in milliseconds") long timeoutMillis) throws InterruptedException {
        long start = System.nanoTime();
        long deadline = start + TimeUnit.MILLISECONDS.toNanos(timeoutMillis);
        while (find(name) != null) {
            if (System.nanoTime() > deadline) {
                throw new IllegalStateException(name + " is still there after " + timeoutMillis + " ms");
            }
            Thread.sleep(5);
        }
        long waited = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - start);
        return new Report<>(String.format("%s gone after %d ms%n", name, waited), waited);
    }

    @Descriptor("How long ago the JVM started, and how long start-up took until the shell was ready")
    public Report<Long> uptime() {
        long uptime = ManagementFactory.getRuntimeMXBean().getUptime();
        return new Report<>(String.format("up %d ms%s%n", uptime, StartupReporter.readyLine()), uptime);
    }

    /** Waits until a device named {@code name} is attached to a transport; returns the milliseconds waited. */
    long awaitBound(String name, long timeoutMillis) throws InterruptedException {
        long start = System.nanoTime();
        long deadline = start + TimeUnit.MILLISECONDS.toNanos(timeoutMillis);
        while (true) {
            LifeCycleOperations device = find(name);
            if (device != null && device.isAttached()) {
                return TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - start);
            }
            if (System.nanoTime() > deadline) {
                throw new IllegalStateException(name + " was not bound within " + timeoutMillis + " ms");
            }
            Thread.sleep(2);
        }
    }

    private LifeCycleOperations find(String name) {
        try {
            for (ServiceReference<LifeCycleOperations> ref : context.getServiceReferences(LifeCycleOperations.class,
                    "(" + VirtioDeviceProperties.DEVICE_NAME + "=" + name + ")")) {
                LifeCycleOperations device = context.getService(ref);
                if (device != null) {
                    context.ungetService(ref);
                    return device;
                }
            }
            return null;
        } catch (InvalidSyntaxException e) {
            throw new IllegalArgumentException("invalid device name " + name);
        }
    }
}
