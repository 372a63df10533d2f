package dev.peridot.virtio.console.internal;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.peridot.virtio.console.BackendSpec;
import dev.peridot.virtio.console.ConsoleConstants;
import dev.peridot.virtio.console.ConsoleFeature;
import dev.peridot.virtio.console.OverflowPolicy;
import dev.peridot.virtio.console.PortSpec;
import dev.peridot.virtio.console.ResizeOrder;
import dev.peridot.virtio.console.VirtioConsole;
import dev.peridot.virtio.defaults.DefaultConfigOperations;
import dev.peridot.virtio.defaults.DefaultFeatureOperations;
import dev.peridot.virtio.defaults.DefaultOperations;
import dev.peridot.virtio.device.ConfigOperations;
import dev.peridot.virtio.device.FeatureOperations;
import dev.peridot.virtio.device.LifeCycleOperations;
import dev.peridot.virtio.device.RunOperations;
import dev.peridot.virtio.device.VirtioDevice;
import dev.peridot.virtio.feature.Feature;
import java.lang.reflect.Proxy;
import java.net.Socket;
import java.util.ArrayList;
import java.util.Collection;
import java.util.Dictionary;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;
import org.osgi.framework.BundleContext;
import org.osgi.framework.ServiceRegistration;

/** The DS components without a framework: configuration parsing, registrations, ports from configurations. */
class ComponentTest {

    /** A service registration recorded by the fake BundleContext. */
    record Registration(List<String> classes, Object service, Map<String, Object> properties, boolean[] unregistered) {
    }

    private final List<Registration> registrations = new ArrayList<>();

    private BundleContext context() {
        return (BundleContext) Proxy.newProxyInstance(getClass().getClassLoader(), new Class<?>[] {BundleContext.class},
                (proxy, method, args) -> {
                    if (!method.getName().equals("registerService")) {
                        throw new UnsupportedOperationException(method.getName());
                    }
                    List<String> classes = args[0] instanceof String[] names ? List.of(names)
                            : args[0] instanceof Class<?> c ? List.of(c.getName()) : List.of((String) args[0]);
                    Map<String, Object> props = new HashMap<>();
                    Dictionary<?, ?> d = (Dictionary<?, ?>) args[2];
                    for (var keys = d.keys(); keys.hasMoreElements(); ) {
                        Object k = keys.nextElement();
                        props.put((String) k, d.get(k));
                    }
                    boolean[] gone = {false};
                    registrations.add(new Registration(classes, args[1], props, gone));
                    return Proxy.newProxyInstance(getClass().getClassLoader(), new Class<?>[] {ServiceRegistration.class},
                            (p, m, a) -> {
                                if (m.getName().equals("unregister")) {
                                    gone[0] = true;
                                    return null;
                                }
                                throw new UnsupportedOperationException(m.getName());
                            });
                });
    }

    private static final DefaultOperations DEFAULTS = new DefaultOperations() {
        @Override
        public ConfigOperations configOperations(VirtioDevice device) {
            return new DefaultConfigOperations(device);
        }

        @Override
        public FeatureOperations featureOperations(VirtioDevice device, Collection<? extends Feature> deviceFeatures) {
            return new DefaultFeatureOperations(device, deviceFeatures);
        }
    };

    @Test
    @DisplayName("a console configuration registers the device under the operation interfaces and VirtioConsole, with name, ID 3 and transport")
    void consoleRegistration() {
        Map<String, Object> config = new HashMap<>();
        config.put("name", "ttyX");
        config.put("max_nr_ports", "4"); // underscore spelling accepted
        config.put("cols", 132);
        config.put("rows", "43");
        config.put("resize.order", "rows_cols");
        config.put("port0.name", "org.console");
        config.put("port0.overflow", "drop_oldest");
        ConsoleDeviceComponent component = new ConsoleDeviceComponent(context(), config, DEFAULTS);
        ConsoleDevice device = component.device();
        assertThat(registrations).hasSize(2);
        Registration main = registrations.get(0);
        assertThat(main.classes()).containsExactlyInAnyOrder(RunOperations.class.getName(),
                LifeCycleOperations.class.getName(), ConfigOperations.class.getName(), VirtioConsole.class.getName());
        assertThat(main.service()).isSameAs(device);
        assertThat(main.properties()).containsEntry("virtio.device.name", "ttyX").containsEntry("virtio.device.id", 3)
                .containsEntry("virtio.transport", "mmio");
        FeatureOperations features = (FeatureOperations) registrations.get(1).service();
        assertThat(features.offeredFeatures()).contains(ConsoleFeature.VIRTIO_CONSOLE_F_SIZE,
                ConsoleFeature.VIRTIO_CONSOLE_F_MULTIPORT, ConsoleFeature.VIRTIO_CONSOLE_F_EMERG_WRITE);
        assertThat(device.maxPorts()).isEqualTo(4);
        assertThat(device.options().resizeOrder()).isEqualTo(ResizeOrder.ROWS_COLS);
        assertThat(device.port(0).orElseThrow().name()).isEqualTo("org.console");
        assertThat(device.port(0).orElseThrow().overflow()).isEqualTo(OverflowPolicy.DROP_OLDEST);
        assertThat(device.readConfig(0, 2)).isEqualTo(132);

        // A port configuration adds a port; deleting it removes the port.
        Map<String, Object> portConfig = new HashMap<>();
        portConfig.put(ConsoleConstants.PORT_CONSOLE_TARGET, ConsoleConstants.consoleTarget("ttyX"));
        portConfig.put("name", "org.tcp");
        portConfig.put("backend", "tcp");
        portConfig.put("tcp.port", "0");
        portConfig.put("buffer.from.guest", "1024");
        ConsolePortComponent port = new ConsolePortComponent(portConfig, device);
        assertThat(port.portId()).isEqualTo(1);
        assertThat(device.port(1).orElseThrow().backendDescription()).startsWith("tcp server 127.0.0.1:");
        assertThat(device.port(1).orElseThrow().fromGuestCapacity()).isEqualTo(1024);
        port.deactivate();
        assertThat(device.port(1)).isEmpty();

        component.deactivate();
        assertThat(registrations).allMatch(r -> r.unregistered()[0]);
    }

    @Test
    @DisplayName("defaults: single port, SIZE and EMERG_WRITE, 80x25, memory port 0; MULTIPORT only with more ports")
    void defaults() {
        ConsoleOptions o = ConfigReader.console(Map.of());
        assertThat(o.name()).isEqualTo("console0");
        assertThat(o.maxPorts()).isEqualTo(1);
        assertThat(o.multiport()).isFalse();
        assertThat(o.size()).isTrue();
        assertThat(o.emergWrite()).isTrue();
        assertThat(o.cols()).isEqualTo(80);
        assertThat(o.rows()).isEqualTo(25);
        assertThat(o.queueSize()).isEqualTo(256);
        assertThat(o.port0().backend()).isInstanceOf(BackendSpec.Memory.class);
        assertThat(o.port0().console()).isTrue();
        assertThat(ConfigReader.console(Map.of("f.multiport", "true")).multiport()).isTrue();
        assertThatThrownBy(() -> ConfigReader.console(Map.of("max.nr.ports", 4, "f.multiport", "false")))
                .isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> ConfigReader.console(Map.of("port0.backend", "serial")))
                .isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> ConfigReader.console(Map.of("queue.size", 100))).isInstanceOf(IllegalArgumentException.class);
        PortSpec unix = new ConfigReader(Map.of("backend", "unix", "path", "/tmp/x.sock", "server", "false",
                "reconnect.ms", "250")).port(PortSpec.AUTO_ID, false);
        assertThat(unix.backend()).isEqualTo(new BackendSpec.Unix("/tmp/x.sock", false, false, 250));
    }

    @Test
    @DisplayName("port 0 a TCP server with wait: the device is registered (and so bound by a transport) only after the first client")
    void port0Wait() throws Exception {
        Map<String, Object> config = new HashMap<>();
        config.put("port0.backend", "tcp");
        config.put("port0.wait", "true");
        ConsoleDeviceComponent component = new ConsoleDeviceComponent(context(), config, DEFAULTS);
        try {
            assertThat(registrations).isEmpty();
            int port = BackendTest.boundPort(component.device().port(0).orElseThrow());
            try (Socket client = new Socket("127.0.0.1", port)) {
                long deadline = System.nanoTime() + 5_000_000_000L;
                while (registrations.isEmpty() && System.nanoTime() < deadline) {
                    Thread.sleep(5);
                }
                assertThat(registrations).hasSize(2);
            }
        } finally {
            component.deactivate();
        }
    }
}
