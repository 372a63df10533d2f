package dev.peridot.virtio.shell.internal;

import dev.peridot.virtio.device.LifeCycleOperations;
import dev.peridot.virtio.device.VirtioDeviceProperties;
import java.lang.management.ManagementFactory;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;
import org.osgi.framework.BundleContext;
import org.osgi.framework.ServiceReference;
import org.osgi.framework.startlevel.FrameworkStartLevel;
import org.osgi.service.component.annotations.Activate;
import org.osgi.service.component.annotations.Component;
import org.osgi.service.component.annotations.Deactivate;
import org.osgi.service.component.annotations.Reference;
import org.osgi.service.component.annotations.ReferenceCardinality;
import org.osgi.service.component.annotations.ReferencePolicy;

/**
 * Prints one line when the runtime is ready — the devices bound and how long start-up took,
 * measured from the launch command ({@value #LAUNCH_EPOCH_MILLIS}, set by the ./peridot script)
 * or else from the JVM's start — and one line whenever a device comes or goes later (hot
 * deploy). "Ready" means no device came or went for {@value #QUIET_MILLIS} ms.
 */
@Component(immediate = true)
public final class StartupReporter {

    public static final String LAUNCH_EPOCH_MILLIS = "peridot.launch.epoch.millis";
    /** A service property a device sets to tell the user where to reach it. */
    public static final String ENDPOINT = "peridot.endpoint";
    static final long QUIET_MILLIS = 150;
    /** The start level of the interactive shell bundles. */
    static final int SHELL_LEVEL = 5;

    private static volatile String readyLine = "";

    private final BundleContext context;
    private final ScheduledExecutorService timer = Executors.newSingleThreadScheduledExecutor(r -> {
        Thread t = new Thread(r, "peridot-startup-report");
        t.setDaemon(true);
        return t;
    });
    private final List<String> events = new ArrayList<>();
    private ScheduledFuture<?> pending;
    private boolean reported;
    private volatile boolean active = true;

    private final org.osgi.framework.ServiceListener anyService = event -> schedule();

    @Activate
    public StartupReporter(BundleContext context) {
        this.context = context;
        // Any service coming or going (configurations turning into components) restarts the
        // quiet period, so "ready" means File Install has applied etc/ and the deploy folder.
        context.addServiceListener(anyService);
        schedule();
    }

    @Reference(service = LifeCycleOperations.class, cardinality = ReferenceCardinality.MULTIPLE,
            policy = ReferencePolicy.DYNAMIC)
    synchronized void bindDevice(ServiceReference<LifeCycleOperations> ref) {
        events.add("+" + ref.getProperty(VirtioDeviceProperties.DEVICE_NAME));
        schedule();
    }

    synchronized void unbindDevice(ServiceReference<LifeCycleOperations> ref) {
        events.add("-" + ref.getProperty(VirtioDeviceProperties.DEVICE_NAME));
        schedule();
    }

    private synchronized void schedule() {
        if (timer == null || !active) {
            return;
        }
        if (pending != null) {
            pending.cancel(false);
        }
        pending = timer.schedule(this::report, QUIET_MILLIS, TimeUnit.MILLISECONDS);
    }

    private synchronized void report() {
        if (!active) {
            return;
        }
        if (context.getBundle(0).getState() != org.osgi.framework.Bundle.ACTIVE) {
            schedule(); // The framework is still starting bundles.
            return;
        }
        List<String> lines = new ArrayList<>();
        VirtioCommands commands = new VirtioCommands(context);
        for (VirtioCommands.DeviceRow row : commands.list().data()) {
            lines.add(String.format("%s (%s, %s%s)", row.name(), row.type(), row.transport(),
                    row.slot() >= 0 ? " slot " + row.slot() : ""));
        }
        String devices = lines.isEmpty() ? "no devices" : String.join(", ", lines);
        if (!reported) {
            reported = true;
            long startedAt = launchMillis();
            long elapsed = System.currentTimeMillis() - startedAt - QUIET_MILLIS;
            readyLine = String.format("; ready %d ms after launch", elapsed);
            System.out.printf("Peridot Virtio ready in %d ms: %s%n", elapsed, devices);
            for (String endpoint : endpoints()) {
                System.out.println("  " + endpoint);
            }
            System.out.flush();
            openShell();
        } else {
            if (!events.isEmpty()) {
                System.out.printf("Peridot Virtio devices changed (%s): %s%n", String.join(" ", events), devices);
            }
        }
        events.clear();
        System.out.flush();
    }

    /**
     * What services announce to the user with the property {@value #ENDPOINT} (for example
     * "console0 port 0: tcp server 127.0.0.1:40321"), with a hint how to reach a TCP endpoint.
     */
    private List<String> endpoints() {
        List<String> result = new ArrayList<>();
        try {
            ServiceReference<?>[] refs = context.getAllServiceReferences(null, "(" + ENDPOINT + "=*)");
            if (refs != null) {
                for (ServiceReference<?> ref : refs) {
                    String endpoint = String.valueOf(ref.getProperty(ENDPOINT));
                    java.util.regex.Matcher m = java.util.regex.Pattern.compile("tcp server ([0-9.]+):(\\d+)").matcher(endpoint);
                    result.add(m.find() ? endpoint + "   (try: nc " + m.group(1) + " " + m.group(2) + ")" : endpoint);
                }
            }
        } catch (org.osgi.framework.InvalidSyntaxException e) {
            throw new IllegalStateException(e);
        }
        result.sort(null);
        return result;
    }

    /**
     * Raises the framework to the start level of the interactive shell (the launcher puts the
     * Gogo/jline bundles one level above the rest), so the prompt appears once the devices are
     * bound. Nothing to do in batch mode, where there is no such bundle.
     */
    private void openShell() {
        FrameworkStartLevel levels = context.getBundle(0).adapt(FrameworkStartLevel.class);
        if (levels.getStartLevel() < SHELL_LEVEL) {
            levels.setStartLevel(SHELL_LEVEL);
        }
    }

    private static long launchMillis() {
        String launch = System.getProperty(LAUNCH_EPOCH_MILLIS);
        if (launch != null) {
            try {
                return Long.parseLong(launch.trim());
            } catch (NumberFormatException ignored) {
                // Fall back to the JVM's start.
            }
        }
        return ManagementFactory.getRuntimeMXBean().getStartTime();
    }

    static String readyLine() {
        return readyLine;
    }

    @Deactivate
    void deactivate() {
        active = false;
        context.removeServiceListener(anyService);
        timer.shutdownNow();
    }
}
