package dev.peridot.virtio.entropy.internal;

import dev.peridot.virtio.defaults.DefaultOperations;
import dev.peridot.virtio.device.ConfigOperations;
import dev.peridot.virtio.device.FeatureOperations;
import dev.peridot.virtio.device.LifeCycleOperations;
import dev.peridot.virtio.device.RunOperations;
import dev.peridot.virtio.device.VirtioDeviceProperties;
import dev.peridot.virtio.entropy.EntropyDevice;
import dev.peridot.virtio.entropy.EntropySource;
import dev.peridot.virtio.entropy.SecureRandomSource;
import dev.peridot.virtio.entropy.SeededSource;
import java.util.ArrayList;
import java.util.Hashtable;
import java.util.List;
import org.osgi.framework.BundleContext;
import org.osgi.framework.ServiceRegistration;
import org.osgi.service.component.annotations.Activate;
import org.osgi.service.component.annotations.Component;
import org.osgi.service.component.annotations.ConfigurationPolicy;
import org.osgi.service.component.annotations.Deactivate;
import org.osgi.service.component.annotations.Reference;
import org.osgi.service.metatype.annotations.AttributeDefinition;
import org.osgi.service.metatype.annotations.Designate;
import org.osgi.service.metatype.annotations.ObjectClassDefinition;
import org.osgi.service.metatype.annotations.Option;

/**
 * One entropy device per factory configuration (PID {@value #PID}). It registers the device's
 * operation interfaces — 'Run Operations' and 'Life Cycle Operations' (the device itself),
 * 'Config Operations' and 'Feature Operations' (the defaults from {@link DefaultOperations}) —
 * each with {@code virtio.device.name}, {@code virtio.device.id} and {@code virtio.transport},
 * so that the transport named there binds it. Deleting the configuration, or stopping this
 * bundle or the default-operations bundle, unregisters the device; its transport lets go of it.
 */
@Component(configurationPid = EntropyDeviceComponent.PID, configurationPolicy = ConfigurationPolicy.REQUIRE,
        immediate = true)
@Designate(ocd = EntropyDeviceComponent.Config.class, factory = true)
public final class EntropyDeviceComponent {

    public static final String PID = "dev.peridot.virtio.entropy";

    private static final System.Logger LOG = System.getLogger(EntropyDeviceComponent.class.getName());

    @ObjectClassDefinition(name = "Peridot Virtio entropy device",
            description = "A virtio-rng device (ID 4) that fills the guest's buffers with random bytes.")
    public @interface Config {

        @AttributeDefinition(name = "Name", description = "The device's name (virtio.device.name), unique among devices.")
        String name() default "rng0";

        @AttributeDefinition(name = "Source", description = "Where the bytes come from.", options = {
                @Option(value = "secure", label = "SecureRandom (for real guests)"),
                @Option(value = "seeded", label = "Seeded SHA-256 stream (reproducible, for tests only)")})
        String source() default "secure";

        @AttributeDefinition(name = "Seed", description = "The seed of the 'seeded' source.")
        long seed() default 0L;

        @AttributeDefinition(name = "Transport", description = "Which transport binds the device (virtio.transport).",
                options = {@Option(value = "vhost-user", label = "vhost-user"), @Option(value = "mmio", label = "MMIO")})
        String transport() default "vhost-user";
    }

    private final EntropyDevice device;
    private final List<ServiceRegistration<?>> registrations = new ArrayList<>();

    @Activate
    public EntropyDeviceComponent(BundleContext context, Config config, @Reference(name = "defaults") DefaultOperations defaults) {
        EntropySource source = switch (config.source().trim()) {
            case "secure" -> new SecureRandomSource();
            case "seeded" -> new SeededSource(config.seed());
            default -> throw new IllegalArgumentException("configuration " + PID + ": source must be 'secure' or 'seeded', not '"
                    + config.source() + "'");
        };
        device = new EntropyDevice(config.name().trim(), source);
        Hashtable<String, Object> properties = new Hashtable<>();
        properties.put(VirtioDeviceProperties.DEVICE_NAME, device.deviceName());
        properties.put(VirtioDeviceProperties.DEVICE_ID, EntropyDevice.DEVICE_ID);
        properties.put(VirtioDeviceProperties.TRANSPORT, config.transport().trim());
        registrations.add(context.registerService(new String[] {RunOperations.class.getName(),
                LifeCycleOperations.class.getName()}, device, properties));
        registrations.add(context.registerService(ConfigOperations.class, defaults.configOperations(device), properties));
        registrations.add(context.registerService(FeatureOperations.class,
                defaults.featureOperations(device, List.of()), properties));
        LOG.log(System.Logger.Level.INFO, "entropy device " + device.deviceName() + " registered for transport "
                + config.transport() + ", source " + source.describe());
    }

    /** The device (for inspection). */
    public EntropyDevice device() {
        return device;
    }

    @Deactivate
    void deactivate() {
        for (ServiceRegistration<?> registration : registrations) {
            try {
                registration.unregister();
            } catch (IllegalStateException e) {
                // Already unregistered because the bundle is stopping.
            }
        }
        registrations.clear();
        device.detach(); // Normally the transport has detached it already; detach is idempotent.
    }
}
