package dev.peridot.virtio.console.internal;

import dev.peridot.virtio.console.BackendSpec;
import dev.peridot.virtio.console.OverflowPolicy;
import dev.peridot.virtio.console.PortSpec;
import dev.peridot.virtio.console.ResizeOrder;
import java.util.Locale;
import java.util.Map;

/**
 * Reads console and port configurations from Configuration Admin properties. Keys are the
 * metatype's dotted names ({@code max.nr.ports}, {@code port0.backend}, {@code tcp.port}); the
 * same names with underscores ({@code max_nr_ports}) are accepted too. Values may be strings
 * (as in a {@code .cfg} file) or typed.
 */
public final class ConfigReader {

    private final Map<String, ?> properties;
    private final String prefix;

    public ConfigReader(Map<String, ?> properties, String prefix) {
        this.properties = properties;
        this.prefix = prefix;
    }

    public ConfigReader(Map<String, ?> properties) {
        this(properties, "");
    }

    private Object raw(String key) {
        String k = prefix + key;
        Object v = properties.get(k);
        if (v == null) {
            v = properties.get(k.replace('.', '_'));
        }
        if (v instanceof Object[] array) {
            v = array.length == 0 ? null : array[0];
        }
        return v;
    }

    public String string(String key, String def) {
        Object v = raw(key);
        return v == null ? def : v.toString().trim();
    }

    public int integer(String key, int def) {
        Object v = raw(key);
        if (v == null) {
            return def;
        }
        if (v instanceof Number n) {
            return n.intValue();
        }
        String s = v.toString().trim();
        try {
            return s.isEmpty() ? def : Integer.decode(s);
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException(prefix + key + ": '" + s + "' is not a number");
        }
    }

    public long longValue(String key, long def) {
        Object v = raw(key);
        if (v == null) {
            return def;
        }
        if (v instanceof Number n) {
            return n.longValue();
        }
        String s = v.toString().trim();
        try {
            return s.isEmpty() ? def : Long.decode(s);
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException(prefix + key + ": '" + s + "' is not a number");
        }
    }

    public boolean bool(String key, boolean def) {
        Object v = raw(key);
        if (v == null) {
            return def;
        }
        if (v instanceof Boolean b) {
            return b;
        }
        String s = v.toString().trim().toLowerCase(Locale.ROOT);
        return switch (s) {
            case "true", "on", "yes", "1" -> true;
            case "false", "off", "no", "0" -> false;
            case "" -> def;
            default -> throw new IllegalArgumentException(prefix + key + ": '" + v + "' is not a boolean");
        };
    }

    /** A port: {@code id, name, console, backend} and the backend's keys, buffers and overflow. */
    public PortSpec port(int defaultId, boolean defaultConsole) {
        String type = string("backend", "memory").toLowerCase(Locale.ROOT);
        boolean server = bool("server", true);
        BackendSpec backend = switch (type) {
            case "memory", "" -> new BackendSpec.Memory();
            case "tcp" -> new BackendSpec.Tcp(string("tcp.host", "127.0.0.1"), integer("tcp.port", 0), server,
                    bool("wait", false), longValue("reconnect.ms", 0));
            case "unix" -> new BackendSpec.Unix(string("path", ""), server, bool("wait", false),
                    longValue("reconnect.ms", 0));
            case "file" -> new BackendSpec.File(string("file.output", ""), string("file.input", ""),
                    bool("file.append", false));
            case "stdio" -> new BackendSpec.Stdio(bool("stdio.input", false));
            default -> throw new IllegalArgumentException(prefix + "backend must be memory, tcp, unix, file or stdio, not '"
                    + type + "'");
        };
        return new PortSpec(integer("id", defaultId), string("name", ""), bool("console", defaultConsole), backend,
                integer("buffer.to.guest", PortSpec.DEFAULT_TO_GUEST_BUFFER),
                integer("buffer.from.guest", PortSpec.DEFAULT_FROM_GUEST_BUFFER),
                OverflowPolicy.parse(string("overflow", "backpressure")));
    }

    /** A console device's options (port 0 from the {@code port0.} keys). */
    public static ConsoleOptions console(Map<String, ?> properties) {
        ConfigReader c = new ConfigReader(properties);
        int maxPorts = c.integer("max.nr.ports", 1);
        String multiport = c.string("f.multiport", "auto").toLowerCase(Locale.ROOT);
        boolean mp = switch (multiport) {
            case "auto", "" -> maxPorts > 1;
            default -> c.bool("f.multiport", false);
        };
        PortSpec port0 = new ConfigReader(properties, "port0.").port(0, true);
        return new ConsoleOptions(c.string("name", "console0"), maxPorts, c.bool("f.size", true), mp,
                c.bool("f.emerg.write", true), c.bool("event.idx", true), c.bool("indirect.desc", true),
                c.bool("ring.reset", true), c.integer("cols", 80), c.integer("rows", 25),
                ResizeOrder.parse(c.string("resize.order", "cols_rows")), c.integer("queue.size", 256), port0);
    }
}
