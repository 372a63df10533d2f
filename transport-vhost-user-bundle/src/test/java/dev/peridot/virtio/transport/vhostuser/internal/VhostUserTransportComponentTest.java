package dev.peridot.virtio.transport.vhostuser.internal;

import static org.assertj.core.api.Assertions.assertThat;

import dev.peridot.virtio.defaults.DefaultConfigOperations;
import dev.peridot.virtio.device.ConfigOperations;
import dev.peridot.virtio.device.LifeCycleOperations;
import dev.peridot.virtio.device.RunOperations;
import java.lang.annotation.Annotation;
import java.lang.reflect.Proxy;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.osgi.framework.BundleContext;
import org.osgi.framework.ServiceEvent;
import org.osgi.framework.ServiceListener;
import org.osgi.framework.ServiceReference;

/**
 * The DS component's binding logic against a minimal in-memory service registry (a proxy
 * BundleContext): the socket is served while the device's three services are registered, and
 * given up when one of them goes (hot undeploy), then served again when it comes back.
 */
class VhostUserTransportComponentTest {

    @TempDir
    Path dir;

    /** A registry just big enough for the component: references, services, one listener. */
    static final class Registry {
        final List<ServiceReference<?>> refs = new ArrayList<>();
        final Map<ServiceReference<?>, Object> services = new HashMap<>();
        final Map<ServiceReference<?>, Integer> gets = new HashMap<>();
        ServiceListener listener;

        ServiceReference<?> register(Object service, Class<?>... types) {
            String[] names = new String[types.length];
            for (int i = 0; i < types.length; i++) {
                names[i] = types[i].getName();
            }
            ServiceReference<?> ref = (ServiceReference<?>) Proxy.newProxyInstance(getClass().getClassLoader(),
                    new Class<?>[] {ServiceReference.class}, (proxy, method, args) -> switch (method.getName()) {
                        case "getProperty" -> "objectClass".equals(args[0]) ? names : null;
                        case "compareTo" -> 0;
                        case "equals" -> proxy == args[0];
                        case "hashCode" -> System.identityHashCode(proxy);
                        case "toString" -> "ref" + List.of(names);
                        default -> null;
                    });
            refs.add(ref);
            services.put(ref, service);
            if (listener != null) {
                listener.serviceChanged(new ServiceEvent(ServiceEvent.REGISTERED, ref));
            }
            return ref;
        }

        void unregister(ServiceReference<?> ref) {
            if (listener != null) {
                listener.serviceChanged(new ServiceEvent(ServiceEvent.UNREGISTERING, ref));
            }
            refs.remove(ref);
            services.remove(ref);
        }

        BundleContext context() {
            return (BundleContext) Proxy.newProxyInstance(getClass().getClassLoader(), new Class<?>[] {BundleContext.class},
                    (proxy, method, args) -> switch (method.getName()) {
                        case "addServiceListener" -> {
                            listener = (ServiceListener) args[0];
                            yield null;
                        }
                        case "removeServiceListener" -> {
                            listener = null;
                            yield null;
                        }
                        case "getServiceReferences" -> refs.isEmpty() ? null : refs.toArray(new ServiceReference<?>[0]);
                        case "getService" -> {
                            gets.merge((ServiceReference<?>) args[0], 1, Integer::sum);
                            yield services.get(args[0]);
                        }
                        case "ungetService" -> {
                            gets.merge((ServiceReference<?>) args[0], -1, Integer::sum);
                            yield true;
                        }
                        default -> null;
                    });
        }
    }

    private static VhostUserTransportComponent.Config config(String name, String socket) {
        return new VhostUserTransportComponent.Config() {
            @Override
            public String device_name() {
                return name;
            }

            @Override
            public String socket_path() {
                return socket;
            }

            @Override
            public Class<? extends Annotation> annotationType() {
                return VhostUserTransportComponent.Config.class;
            }
        };
    }

    @Test
    void servesTheSocketWhileTheDeviceIsRegistered() throws Exception {
        Registry registry = new Registry();
        Path socket = dir.resolve("dev0.sock");
        PatternDevice device = new PatternDevice("dev0");
        VhostUserTransportComponent component = new VhostUserTransportComponent(registry.context(),
                config("dev0", socket.toString()));
        assertThat(component.backend()).as("no device yet").isNull();

        ServiceReference<?> run = registry.register(device, RunOperations.class, LifeCycleOperations.class);
        assertThat(component.backend()).as("config operations still missing").isNull();
        ServiceReference<?> config = registry.register(new DefaultConfigOperations(device), ConfigOperations.class);
        assertThat(component.backend()).isNotNull();
        assertThat(Files.exists(socket)).isTrue();
        assertThat(device.isAttached()).isTrue();

        try (TestFrontEnd fe = new TestFrontEnd(socket.toString())) {
            fe.send(VhostUserProtocol.GET_QUEUE_NUM, new byte[0]);
            assertThat(fe.replyU64(VhostUserProtocol.GET_QUEUE_NUM)).isEqualTo(2);
        }

        registry.unregister(config); // hot undeploy of (part of) the device
        assertThat(component.backend()).isNull();
        assertThat(device.isAttached()).isFalse();
        assertThat(Files.exists(socket)).isFalse();
        assertThat(registry.gets.get(run)).as("services released").isZero();

        registry.register(new DefaultConfigOperations(device), ConfigOperations.class);
        assertThat(component.backend()).as("served again").isNotNull();

        component.deactivate();
        assertThat(device.isAttached()).isFalse();
        assertThat(Files.exists(socket)).isFalse();
    }

    @Test
    void escapesTheDeviceNameInTheFilter() {
        assertThat(VhostUserTransportComponent.escape("a(b)*c\\")).isEqualTo("a\\(b\\)\\*c\\\\");
    }
}
