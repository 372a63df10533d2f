package dev.peridot.virtio.demo.internal;

import dev.peridot.virtio.testkit.GuestRamAllocator;
import dev.peridot.virtio.transport.mmio.DriverNotificationSink;
import dev.peridot.virtio.transport.mmio.MmioBus;
import dev.peridot.virtio.transport.mmio.MmioDeviceAccess;
import dev.peridot.virtio.transport.mmio.MmioProperties;
import dev.peridot.virtio.transport.mmio.MmioRegisters;
import java.util.Dictionary;
import java.util.Hashtable;
import org.osgi.framework.BundleContext;
import org.osgi.framework.ServiceReference;
import org.osgi.framework.ServiceRegistration;
import org.osgi.service.component.annotations.Activate;
import org.osgi.service.component.annotations.Component;
import org.osgi.service.component.annotations.ConfigurationPolicy;
import org.osgi.service.component.annotations.Deactivate;
import org.osgi.service.component.annotations.Modified;
import org.osgi.service.component.annotations.Reference;
import org.osgi.service.metatype.annotations.Designate;
import org.osgi.util.tracker.ServiceTracker;

/**
 * The demo guest of the runtime: the driver test kit acting as the guest of a console device
 * (there is no VM in the default set-up). Whenever the configured device's MMIO window appears
 * it brings the device up and echoes port 0; when the device goes away it stops, and starts
 * again when it comes back. Active only with its configuration (shipped in etc/, enabled).
 */
@Component(configurationPid = DemoGuestComponent.PID, configurationPolicy = ConfigurationPolicy.REQUIRE)
@Designate(ocd = DemoGuestConfig.class)
public final class DemoGuestComponent {

    public static final String PID = "dev.peridot.virtio.demo.guest";
    private static final System.Logger LOG = System.getLogger(DemoGuestComponent.class.getName());

    private final BundleContext context;
    private final MmioBus bus;
    private DemoGuestConfig config;
    private ServiceTracker<MmioDeviceAccess, MmioDeviceAccess> tracker;
    private DemoGuest guest;
    private Thread thread;
    private ServiceRegistration<DriverNotificationSink> sink;

    @Activate
    public DemoGuestComponent(BundleContext context, @Reference MmioBus bus, DemoGuestConfig config) {
        this.context = context;
        this.bus = bus;
        this.config = config;
        if (!config.enabled()) {
            LOG.log(System.Logger.Level.INFO, "[demo guest] disabled in configuration");
            return;
        }
        openTracker();
    }

    private synchronized void openTracker() {
        String filter = "(&(objectClass=" + MmioDeviceAccess.class.getName() + ")(" + MmioProperties.DEVICE_NAME
                + "=" + config.device_name() + "))";
        try {
            tracker = new ServiceTracker<>(context, context.createFilter(filter), null) {
                @Override
                public MmioDeviceAccess addingService(ServiceReference<MmioDeviceAccess> reference) {
                    MmioDeviceAccess window = context.getService(reference);
                    start(window);
                    return window;
                }

                @Override
                public void removedService(ServiceReference<MmioDeviceAccess> reference, MmioDeviceAccess window) {
                    stopGuest(false);
                    context.ungetService(reference);
                }
            };
        } catch (org.osgi.framework.InvalidSyntaxException e) {
            throw new IllegalArgumentException("invalid device name " + config.device_name(), e);
        }
        tracker.open();
    }

    private synchronized void start(MmioDeviceAccess window) {
        stopGuest(false);
        long base = bus.guestMemory().regions().get(0).guestAddress() + ((long) config.ram_offset_mb() << 20);
        GuestRamAllocator ram = new GuestRamAllocator(base, (long) config.ram_size_mb() << 20);
        guest = new DemoGuest(window, ram, config.receive_buffers(), config.buffer_size());
        Dictionary<String, Object> props = new Hashtable<>();
        props.put(MmioProperties.SLOT, window.slot());
        sink = context.registerService(DriverNotificationSink.class, guest.driver(), props);
        thread = new Thread(guest, "peridot-demo-guest");
        thread.setDaemon(true);
        thread.start();
        System.out.println("Demo guest (the driver test kit acting as the guest, not a VM) drives " + window.deviceName()
                + ": what reaches its port 0 is echoed back.");
    }

    /** Stops the guest thread; with {@code resetDevice} also resets the device, so it is left at status 0. */
    private synchronized void stopGuest(boolean resetDevice) {
        if (guest == null) {
            return;
        }
        guest.stop();
        try {
            thread.join(2000);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        try {
            sink.unregister();
        } catch (IllegalStateException alreadyGone) {
            // The framework is stopping.
        }
        if (resetDevice && guest.driver().window().isBound()) {
            guest.driver().window().write(MmioRegisters.STATUS, 4, 0);
        }
        guest = null;
        thread = null;
        sink = null;
    }

    /**
     * A configuration update that changes nothing of the demo guest's settings (File Install adds
     * its own property after creating the configuration) keeps it running; DS cannot do that by
     * itself, so a real change is made by restarting the guest with the new settings.
     */
    @Modified
    synchronized void modified(DemoGuestConfig updated) {
        if (sameSettings(updated, config)) {
            return;
        }
        LOG.log(System.Logger.Level.INFO, "[demo guest] configuration changed; restarting it");
        config = updated;
        if (tracker != null) {
            tracker.close();
            tracker = null;
        }
        stopGuest(true);
        if (updated.enabled()) {
            openTracker();
        }
    }

    private static boolean sameSettings(DemoGuestConfig a, DemoGuestConfig b) {
        return a.enabled() == b.enabled() && a.device_name().equals(b.device_name()) && a.ram_offset_mb() == b.ram_offset_mb()
                && a.ram_size_mb() == b.ram_size_mb() && a.receive_buffers() == b.receive_buffers()
                && a.buffer_size() == b.buffer_size();
    }

    @Deactivate
    synchronized void deactivate() {
        if (tracker != null) {
            tracker.close();
        }
        stopGuest(true);
    }
}
