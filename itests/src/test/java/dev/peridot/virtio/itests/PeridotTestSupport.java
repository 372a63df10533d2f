package dev.peridot.virtio.itests;

import static org.ops4j.pax.exam.CoreOptions.cleanCaches;
import static org.ops4j.pax.exam.CoreOptions.frameworkStartLevel;
import static org.ops4j.pax.exam.CoreOptions.junitBundles;
import static org.ops4j.pax.exam.CoreOptions.systemProperty;

import dev.peridot.virtio.device.VirtioDeviceProperties;
import dev.peridot.virtio.testkit.GuestRamAllocator;
import dev.peridot.virtio.testkit.VirtioMmioDriver;
import dev.peridot.virtio.transport.mmio.DriverNotificationSink;
import dev.peridot.virtio.transport.mmio.MmioBus;
import dev.peridot.virtio.transport.mmio.MmioDeviceAccess;
import dev.peridot.virtio.transport.mmio.MmioProperties;
import java.io.IOException;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Dictionary;
import java.util.Hashtable;
import java.util.List;
import java.util.concurrent.TimeUnit;
import javax.inject.Inject;
import org.ops4j.pax.exam.Option;
import org.osgi.framework.Bundle;
import org.osgi.framework.BundleContext;
import org.osgi.framework.InvalidSyntaxException;
import org.osgi.framework.ServiceReference;
import org.osgi.framework.ServiceRegistration;
import org.osgi.service.cm.Configuration;
import org.osgi.service.cm.ConfigurationAdmin;

/**
 * The common set-up of the integration tests: the bundles of the runtime distribution
 * (runtime/target/peridot/bundles, start levels 1 to 3; no File Install and no interactive
 * shell), and helpers to create devices through Configuration Admin and drive them with the
 * test kit.
 *
 * <p>This class must not load console API classes: a test that uninstalls the console bundle
 * would otherwise keep the probe wired to the old revision. Tests that use the
 * {@code VirtioConsole} service reference it themselves.
 */
public abstract class PeridotTestSupport {

    /** {@code ConsoleConstants.CONSOLE_FACTORY_PID}, spelled out so that this class does not load the console API. */
    protected static final String CONSOLE_PID = "dev.peridot.virtio.console";
    /** {@code ConsoleConstants.PORT_FACTORY_PID}. */
    protected static final String PORT_PID = "dev.peridot.virtio.console.port";
    /** The console bundle. */
    protected static final String CONSOLE_BUNDLE = "dev.peridot.virtio.console";

    protected static final long TIMEOUT_MILLIS = 10_000;

    @Inject
    protected BundleContext context;

    @Inject
    protected ConfigurationAdmin configurationAdmin;

    @org.ops4j.pax.exam.Configuration
    public Option[] config() throws IOException {
        Path dist = Path.of(System.getProperty("peridot.dist", "../runtime/target/peridot"));
        List<Option> options = new ArrayList<>();
        for (int level = 1; level <= 3; level++) {
            try (DirectoryStream<Path> jars = Files.newDirectoryStream(dist.resolve("bundles/" + level), "*.jar")) {
                for (Path jar : jars) {
                    options.add(org.ops4j.pax.exam.CoreOptions.bundle(jar.toUri().toString()).startLevel(level).start());
                }
            }
        }
        // Pax Exam's own bundles need org.slf4j [1.4,2); with pax.exam.logging=none we provide it
        // (our bundles log through System.Logger and need no SLF4J).
        options.add(org.ops4j.pax.exam.CoreOptions.mavenBundle("org.slf4j", "slf4j-api", "1.7.36").startLevel(1));
        options.add(org.ops4j.pax.exam.CoreOptions.mavenBundle("org.slf4j", "slf4j-simple", "1.7.36").noStart());
        options.add(junitBundles());
        options.add(frameworkStartLevel(5));
        options.add(cleanCaches());
        options.add(systemProperty("pax.exam.logging").value("none"));
        options.add(systemProperty("org.ops4j.pax.url.mvn.offline").value("true"));
        return options.toArray(new Option[0]);
    }

    // ------------------------------------------------------------------ services

    /** Waits for a service of {@code type} matching {@code filter} (may be null). */
    protected <T> T await(Class<T> type, String filter) throws InterruptedException {
        long deadline = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(TIMEOUT_MILLIS);
        while (true) {
            T service = find(type, filter);
            if (service != null) {
                return service;
            }
            if (System.nanoTime() > deadline) {
                throw new AssertionError("no " + type.getSimpleName() + " " + filter + " within " + TIMEOUT_MILLIS + " ms");
            }
            Thread.sleep(5);
        }
    }

    /** Waits until no service of {@code type} matches {@code filter}. */
    protected void awaitGone(Class<?> type, String filter) throws InterruptedException {
        long deadline = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(TIMEOUT_MILLIS);
        while (find(type, filter) != null) {
            if (System.nanoTime() > deadline) {
                throw new AssertionError(type.getSimpleName() + " " + filter + " still there after " + TIMEOUT_MILLIS + " ms");
            }
            Thread.sleep(5);
        }
    }

    /** The service, or null. */
    protected <T> T find(Class<T> type, String filter) {
        try {
            for (ServiceReference<T> ref : context.getServiceReferences(type, filter)) {
                T service = context.getService(ref);
                if (service != null) {
                    context.ungetService(ref);
                    return service;
                }
            }
            return null;
        } catch (InvalidSyntaxException e) {
            throw new IllegalArgumentException(filter, e);
        }
    }

    /** The service reference, or null. */
    protected ServiceReference<?> reference(Class<?> type, String filter) {
        try {
            var refs = context.getServiceReferences(type, filter);
            return refs.isEmpty() ? null : refs.iterator().next();
        } catch (InvalidSyntaxException e) {
            throw new IllegalArgumentException(filter, e);
        }
    }

    protected static String named(String name) {
        return "(" + VirtioDeviceProperties.DEVICE_NAME + "=" + name + ")";
    }

    protected Bundle installedBundle(String symbolicName) {
        for (Bundle b : context.getBundles()) {
            if (symbolicName.equals(b.getSymbolicName())) {
                return b;
            }
        }
        throw new AssertionError("no bundle " + symbolicName);
    }

    // ------------------------------------------------------------------ devices

    /** Creates a console device through Configuration Admin (factory PID, key-value pairs). */
    protected Configuration createConsole(String name, Object... keyValues) throws IOException {
        Configuration c = configurationAdmin.createFactoryConfiguration(CONSOLE_PID, "?");
        Dictionary<String, Object> props = new Hashtable<>();
        props.put("name", name);
        for (int i = 0; i < keyValues.length; i += 2) {
            props.put((String) keyValues[i], keyValues[i + 1]);
        }
        c.update(props);
        return c;
    }

    /** Creates a port of console {@code console} through Configuration Admin. */
    protected Configuration createPort(String console, Object... keyValues) throws IOException {
        Configuration c = configurationAdmin.createFactoryConfiguration(PORT_PID, "?");
        Dictionary<String, Object> props = new Hashtable<>();
        props.put("console.target", named(console));
        for (int i = 0; i < keyValues.length; i += 2) {
            props.put((String) keyValues[i], keyValues[i + 1]);
        }
        c.update(props);
        return c;
    }

    protected MmioDeviceAccess window(String name) throws InterruptedException {
        return await(MmioDeviceAccess.class, "(" + MmioProperties.DEVICE_NAME + "=" + name + ")");
    }

    /** A driven guest: the test kit on a window, registered as the slot's interrupt sink. */
    protected final class Guest implements AutoCloseable {
        public final VirtioMmioDriver driver;
        private final ServiceRegistration<DriverNotificationSink> sink;

        Guest(MmioDeviceAccess window, int ramSlice) {
            MmioBus bus = find(MmioBus.class, null);
            long base = bus.guestMemory().regions().get(0).guestAddress() + ((long) ramSlice << 22);
            driver = new VirtioMmioDriver(window, new GuestRamAllocator(base, 4L << 20));
            Dictionary<String, Object> props = new Hashtable<>();
            props.put(MmioProperties.SLOT, window.slot());
            sink = context.registerService(DriverNotificationSink.class, driver, props);
        }

        @Override
        public void close() {
            try {
                sink.unregister();
            } catch (IllegalStateException alreadyGone) {
                // The test's bundle context is going away.
            }
        }
    }

    /** A test-kit guest for the window, with its rings in 4 MiB slice {@code ramSlice} of the bus RAM. */
    protected Guest guest(MmioDeviceAccess window, int ramSlice) {
        return new Guest(window, ramSlice);
    }

    /** Live threads whose name starts with {@code prefix}. */
    protected static long threads(String prefix) {
        return Thread.getAllStackTraces().keySet().stream().filter(t -> t.getName().startsWith(prefix)).count();
    }

    /** All live threads. */
    protected static int liveThreads() {
        return Thread.getAllStackTraces().size();
    }

    /** Waits until the live thread count is at most {@code expected}; returns the last count seen. */
    protected static int awaitThreads(int expected) throws InterruptedException {
        long deadline = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(TIMEOUT_MILLIS);
        int now;
        while ((now = liveThreads()) > expected && System.nanoTime() < deadline) {
            Thread.sleep(10);
        }
        return now;
    }

    /** Refreshes the framework's package wiring (after an uninstall) and waits until it is done. */
    protected void refreshPackages() throws InterruptedException {
        java.util.concurrent.CountDownLatch done = new java.util.concurrent.CountDownLatch(1);
        context.getBundle(0).adapt(org.osgi.framework.wiring.FrameworkWiring.class)
                .refreshBundles(null, event -> done.countDown());
        if (!done.await(TIMEOUT_MILLIS, TimeUnit.MILLISECONDS)) {
            throw new AssertionError("package refresh did not finish");
        }
    }

    /** Brings a guest up on the named device's window and sends one buffer; the device is usable. */
    protected void provesUsable(String name, int ramSlice) throws InterruptedException {
        MmioDeviceAccess window = window(name);
        try (Guest guest = guest(window, ramSlice)) {
            java.util.List<dev.peridot.virtio.testkit.DriverQueue> queues =
                    guest.driver.initialize(dev.peridot.virtio.feature.FeatureSet.of(32), 2, 64);
            queues.get(1).addOutbound("usable".getBytes(java.nio.charset.StandardCharsets.US_ASCII));
            queues.get(1).kick();
            guest.driver.awaitCompletions(queues.get(1), 1, TIMEOUT_MILLIS);
            guest.driver.reset();
        }
    }
}
