package dev.peridot.virtio.console.internal.shell;

import dev.peridot.virtio.console.ConsoleConstants;
import dev.peridot.virtio.console.PortInfo;
import dev.peridot.virtio.console.VirtioConsole;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Collection;
import java.util.Dictionary;
import java.util.Hashtable;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import org.apache.felix.service.command.Descriptor;
import org.osgi.framework.BundleContext;
import org.osgi.framework.InvalidSyntaxException;
import org.osgi.framework.ServiceReference;
import org.osgi.service.cm.Configuration;
import org.osgi.service.cm.ConfigurationAdmin;
import org.osgi.service.component.annotations.Activate;
import org.osgi.service.component.annotations.Component;
import org.osgi.service.component.annotations.Reference;

/**
 * {@code console:*} — the ports of the console devices, their data and their size.
 *
 * <p>A port is written {@code N} (on the only console, or {@code console0}) or
 * {@code NAME:N}. {@code console:addport} and {@code console:removeport} create and delete port
 * configurations (factory PID {@value ConsoleConstants#PORT_FACTORY_PID}), so a port added from
 * the shell is configured exactly like one from a {@code .cfg} file. (Gogo finds a command by its
 * Java method name, so the names cannot have a hyphen.)
 */
@Component(service = ConsoleCommands.class, property = {
        "osgi.command.scope=console",
        "osgi.command.function=ports",
        "osgi.command.function=send",
        "osgi.command.function=read",
        "osgi.command.function=resize",
        "osgi.command.function=addport",
        "osgi.command.function=removeport"})
public final class ConsoleCommands {

    private final BundleContext context;
    private final ConfigurationAdmin configurationAdmin;

    @Activate
    public ConsoleCommands(BundleContext context, @Reference ConfigurationAdmin configurationAdmin) {
        this.context = context;
        this.configurationAdmin = configurationAdmin;
    }

    @Descriptor("Show the ports of every console: backend, guest and host state, bytes each way, drops, size")
    public String ports() {
        StringBuilder sb = new StringBuilder();
        for (VirtioConsole console : consoles().values()) {
            sb.append(String.format("%s: %d port(s) max, multiport %s%n", console.deviceName(), console.maxPorts(),
                    console.multiportOffered() ? "offered" : "not offered"));
            sb.append(String.format("  %-3s %-14s %-4s %-34s %-5s %-5s %9s %9s %7s %s%n", "ID", "NAME", "CONS",
                    "BACKEND", "GUEST", "HOST", "FROM.G", "TO.G", "DROPS", "SIZE"));
            for (PortInfo p : console.ports()) {
                sb.append(String.format("  %-3d %-14s %-4s %-34s %-5s %-5s %9d %9d %7d %dx%d%n", p.id(),
                        cut(p.name().isEmpty() ? "-" : p.name(), 14), p.console() ? "yes" : "-",
                        cut(p.backendDescription() + " (" + p.backendState() + ")", 34),
                        p.guestOpen() ? "open" : (p.announced() ? "added" : "-"), p.hostOpen() ? "open" : "-",
                        p.bytesFromGuest(), p.bytesToGuest(), p.droppedBytes() + p.discardedBytes(), p.cols(), p.rows()));
            }
        }
        return sb.length() == 0 ? "no console devices\n" : sb.toString();
    }

    @Descriptor("Send text (and a newline) to the guest through a port")
    public String send(@Descriptor("[CONSOLE:]PORT, for example 0 or console0:2") String port,
                       @Descriptor("the text; quote it if it has spaces") String text) {
        PortRef ref = port(port);
        byte[] data = (text + "\n").getBytes(StandardCharsets.UTF_8);
        int accepted = ref.console().send(ref.id(), data);
        return String.format("%s port %d: %d of %d bytes accepted%s%n", ref.console().deviceName(), ref.id(), accepted,
                data.length, accepted < data.length ? " (the guest is not reading; send the rest later)" : "");
    }

    @Descriptor("Read what the guest wrote to a port (memory backend: and take it out of the buffer)")
    public String read(@Descriptor("[CONSOLE:]PORT, for example 0 or console0:2") String port) {
        PortRef ref = port(port);
        return new String(ref.console().read(ref.id(), 64 * 1024), StandardCharsets.UTF_8);
    }

    @Descriptor("Set the console size of port 0 of the console (cols/rows and a configuration change, or RESIZE with multiport)")
    public String resize(@Descriptor("columns") int cols, @Descriptor("rows") int rows) {
        return resize("0", cols, rows);
    }

    @Descriptor("Set the console size of a port")
    public String resize(@Descriptor("[CONSOLE:]PORT") String port, @Descriptor("columns") int cols,
                         @Descriptor("rows") int rows) {
        PortRef ref = port(port);
        ref.console().resize(ref.id(), cols, rows);
        return String.format("%s port %d: %dx%d%n", ref.console().deviceName(), ref.id(), cols, rows);
    }

    @Descriptor("Add a port as a configuration: console:addport [console=NAME] [id=N] [name=NAME] [backend=memory|tcp|unix|file] [KEY=VALUE ...] (the keys of a port .cfg)")
    public String addport(@Descriptor("KEY=VALUE settings of the port") String... settings) throws IOException {
        return addPort(List.of(settings));
    }

    private String addPort(List<String> settings) throws IOException {
        Dictionary<String, Object> props = new Hashtable<>();
        String console = null;
        for (String setting : settings) {
            int eq = setting.indexOf('=');
            if (eq <= 0) {
                throw new IllegalArgumentException("settings are KEY=VALUE, not '" + setting + "'");
            }
            String key = setting.substring(0, eq).trim();
            String value = setting.substring(eq + 1).trim();
            if (key.equals("console")) {
                console = value; // The console's name; 'console=true|false' marks a console port.
                if (value.equalsIgnoreCase("true") || value.equalsIgnoreCase("false")) {
                    props.put("console", value);
                    console = null;
                }
            } else {
                props.put(key, value);
            }
        }
        VirtioConsole target = console == null ? onlyConsole() : consoles().get(console);
        if (target == null) {
            throw new IllegalArgumentException("no console named " + console);
        }
        if (!target.multiportOffered() && !"0".equals(String.valueOf(props.get("id")))) {
            throw new IllegalArgumentException(target.deviceName() + " is a single-port console (max.nr.ports=1): "
                    + "ports other than 0 need a console with max.nr.ports > 1 (MULTIPORT)");
        }
        props.put(ConsoleConstants.PORT_CONSOLE_TARGET, ConsoleConstants.consoleTarget(target.deviceName()));
        Configuration configuration = configurationAdmin.createFactoryConfiguration(ConsoleConstants.PORT_FACTORY_PID, "?");
        configuration.update(props);
        return String.format("port configuration %s created for %s%n", configuration.getPid(), target.deviceName());
    }

    @Descriptor("Remove a port: deletes its configuration (or, for a port added programmatically, the port itself)")
    public String removeport(@Descriptor("[CONSOLE:]PORT") String port) throws IOException, InvalidSyntaxException {
        PortRef ref = port(port);
        String filter = "(&(service.factoryPid=" + ConsoleConstants.PORT_FACTORY_PID + ")("
                + ConsoleConstants.PORT_CONSOLE_TARGET + "=" + ConsoleConstants.consoleTarget(ref.console().deviceName())
                        .replace("(", "\\(").replace(")", "\\)") + ")(id=" + ref.id() + "))";
        Configuration[] configurations = configurationAdmin.listConfigurations(filter);
        if (configurations != null && configurations.length > 0) {
            for (Configuration c : configurations) {
                c.delete();
            }
            return String.format("%s port %d: configuration deleted%n", ref.console().deviceName(), ref.id());
        }
        boolean removed = ref.console().removePort(ref.id());
        return String.format("%s port %d: %s%n", ref.console().deviceName(), ref.id(), removed ? "removed" : "no such port");
    }

    private record PortRef(VirtioConsole console, int id) {
    }

    private PortRef port(String spec) {
        int colon = spec.lastIndexOf(':');
        VirtioConsole console = colon < 0 ? onlyConsole() : consoles().get(spec.substring(0, colon));
        if (console == null) {
            throw new IllegalArgumentException("no console for '" + spec + "'; see console:ports");
        }
        int id = Integer.parseInt(spec.substring(colon + 1).trim());
        if (console.port(id).isEmpty()) {
            throw new IllegalArgumentException(console.deviceName() + " has no port " + id);
        }
        return new PortRef(console, id);
    }

    /** The only console, or console0 when there are several. */
    private VirtioConsole onlyConsole() {
        Map<String, VirtioConsole> all = consoles();
        if (all.size() == 1) {
            return all.values().iterator().next();
        }
        VirtioConsole console0 = all.get("console0");
        if (console0 == null) {
            throw new IllegalArgumentException("several consoles: name one, as NAME:PORT (" + all.keySet() + ")");
        }
        return console0;
    }

    private Map<String, VirtioConsole> consoles() {
        Map<String, VirtioConsole> result = new TreeMap<>();
        try {
            Collection<ServiceReference<VirtioConsole>> refs = context.getServiceReferences(VirtioConsole.class, null);
            for (ServiceReference<VirtioConsole> ref : refs) {
                VirtioConsole c = context.getService(ref);
                if (c != null) {
                    context.ungetService(ref);
                    result.put(c.deviceName(), c);
                }
            }
        } catch (InvalidSyntaxException e) {
            throw new IllegalStateException(e);
        }
        return result;
    }

    private static String cut(String s, int max) {
        return s.length() > max ? s.substring(0, max - 1) + "…" : s;
    }
}
