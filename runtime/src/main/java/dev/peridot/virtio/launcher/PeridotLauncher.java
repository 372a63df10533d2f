package dev.peridot.virtio.launcher;

import java.io.IOException;
import java.io.InputStream;
import java.io.PrintStream;
import java.net.URISyntaxException;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.ServiceLoader;
import org.osgi.framework.Bundle;
import org.osgi.framework.BundleContext;
import org.osgi.framework.BundleException;
import org.osgi.framework.FrameworkEvent;
import org.osgi.framework.launch.Framework;
import org.osgi.framework.launch.FrameworkFactory;
import org.osgi.framework.startlevel.BundleStartLevel;

/**
 * Starts the Peridot Virtio runtime: an Apache Felix framework with the bundles of the
 * distribution ({@code bundles/<start level>/*.jar}, plus {@code bundles/interactive} for the
 * interactive Gogo shell), File Install watching {@code etc/} (the out-of-the-box devices) and
 * the deploy folder (hot deploy of device bundles and {@code .cfg} files).
 *
 * <pre>
 * peridot-launcher [-c "cmd; cmd"] [--batch FILE|-] [--await dev1,dev2] [--deploy DIR] [--cache DIR] [--etc DIR]
 * </pre>
 * Without {@code -c}/{@code --batch} the interactive Gogo shell runs; with them the commands run
 * in batch mode and the launcher exits with their status.
 */
public final class PeridotLauncher {

    /** The start level File Install runs at, after every device bundle is there. */
    private static final int LAST_LEVEL = 4;
    /** The start level of the interactive shell, reached when the devices are bound (see StartupReporter). */
    private static final int SHELL_LEVEL = 5;

    private PeridotLauncher() {
    }

    public static void main(String[] args) {
        int status;
        try {
            status = run(args, System.out);
        } catch (UsageException e) {
            System.err.println("peridot: " + e.getMessage());
            System.err.println(usage());
            status = 2;
        } catch (Exception e) {
            System.err.println("peridot: cannot start the runtime: " + e);
            status = 1;
        }
        System.exit(status);
    }

    static String usage() {
        return String.join(System.lineSeparator(),
                "usage: peridot [options]",
                "  (no option)        start the runtime with the interactive Gogo shell",
                "  -c \"CMD; CMD\"      run Gogo commands in batch mode, print their results, exit",
                "  --batch FILE|-     run the commands of FILE (or of standard input, line by line), exit",
                "  --await DEV,DEV    in batch mode, wait until these devices are bound before the first command",
                "  --deploy DIR       the hot-deploy folder (default ./deploy)",
                "  --etc DIR          the folder of out-of-the-box configurations (default <home>/etc)",
                "  --cache DIR        the framework's cache (default <home>/cache); give each concurrent runtime its own",
                "  --help             this text");
    }

    static int run(String[] args, PrintStream out) throws Exception {
        Map<String, String> options = parse(args);
        if (options.containsKey("help")) {
            out.println(usage());
            return 0;
        }
        Path home = home();
        boolean batch = options.containsKey("c") || options.containsKey("batch");
        Path deploy = Path.of(options.getOrDefault("deploy", "deploy")).toAbsolutePath().normalize();
        Path etc = Path.of(options.getOrDefault("etc", home.resolve("etc").toString())).toAbsolutePath().normalize();
        Path cache = Path.of(options.getOrDefault("cache", home.resolve("cache").toString())).toAbsolutePath().normalize();
        Files.createDirectories(deploy);

        Map<String, String> props = new HashMap<>();
        props.put("org.osgi.framework.storage", cache.toString());
        props.put("org.osgi.framework.storage.clean", "onFirstInit");
        props.put("org.osgi.framework.startlevel.beginning", Integer.toString(LAST_LEVEL));
        props.put("org.osgi.framework.system.packages.extra",
                "org.slf4j;version=2.0.17,org.slf4j.event;version=2.0.17,org.slf4j.helpers;version=2.0.17,"
                        + "org.slf4j.spi;version=2.0.17");
        props.put("felix.fileinstall.dir", etc + "," + deploy);
        props.put("felix.fileinstall.poll", "100");
        props.put("felix.fileinstall.noInitialDelay", "true");
        props.put("felix.fileinstall.enableConfigSave", "false");
        props.put("felix.fileinstall.log.level", "2");
        props.put("felix.fileinstall.bundles.startTransient", "true");
        props.put("ds.loglevel", "warn");
        props.put("peridot.home", home.toString());
        props.put("peridot.deploy", deploy.toString());
        if (options.containsKey("c")) {
            props.put("peridot.batch.commands", options.get("c"));
        }
        if (options.containsKey("batch")) {
            props.put("peridot.batch.file", options.get("batch"));
        }
        if (options.containsKey("await")) {
            props.put("peridot.batch.await", options.get("await"));
        }
        Path conf = home.resolve("conf/framework.properties");
        if (Files.isRegularFile(conf)) {
            Properties extra = new Properties();
            try (InputStream in = Files.newInputStream(conf)) {
                extra.load(in);
            }
            extra.forEach((k, v) -> {
                if (k.toString().startsWith("org.slf4j.")) {
                    System.getProperties().putIfAbsent(k, v); // slf4j-simple reads system properties.
                } else {
                    props.putIfAbsent(k.toString(), v.toString());
                }
            });
        }
        for (String key : System.getProperties().stringPropertyNames()) {
            if (key.startsWith("felix.") || key.startsWith("org.osgi.") || key.startsWith("peridot.")) {
                props.put(key, System.getProperty(key));
            }
        }

        // jline finds its terminal providers through the context class loader; under Felix it must be
        // null, or jline falls back to a dumb terminal (../shared/reference/toolchain.md, pitfall 3).
        Thread.currentThread().setContextClassLoader(null);
        Iterator<FrameworkFactory> factories = ServiceLoader.load(FrameworkFactory.class).iterator();
        if (!factories.hasNext()) {
            throw new IllegalStateException("no OSGi framework on the class path");
        }
        Framework framework = factories.next().newFramework(props);
        framework.init();
        BundleContext context = framework.getBundleContext();
        for (int level = 1; level <= LAST_LEVEL; level++) {
            install(context, home.resolve("bundles").resolve(Integer.toString(level)), level);
        }
        if (!batch) {
            // The shell comes one start level above everything else; the start-up report raises
            // the framework to it once the devices are bound, so the prompt means "ready".
            install(context, home.resolve("bundles/interactive"), SHELL_LEVEL);
        }
        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            try {
                framework.stop();
                framework.waitForStop(10_000);
            } catch (BundleException | InterruptedException ignored) {
                // Exiting anyway.
            }
        }, "peridot-shutdown"));
        framework.start();
        List<String> broken = inactiveBundles(context);
        if (!broken.isEmpty()) {
            System.err.println("peridot: these bundles did not start (see the errors above): " + String.join(", ", broken));
            if (batch) {
                framework.stop();
                framework.waitForStop(10_000);
                return 1;
            }
        }
        FrameworkEvent stopped = framework.waitForStop(0);
        String exit = System.getProperty("peridot.exit.code");
        if (exit != null) {
            return Integer.parseInt(exit);
        }
        return stopped.getType() == FrameworkEvent.ERROR ? 1 : 0;
    }

    /** Bundles that are not active once the framework reached its start level (fragments excepted). */
    private static List<String> inactiveBundles(BundleContext context) {
        List<String> broken = new ArrayList<>();
        for (Bundle b : context.getBundles()) {
            int level = b.adapt(BundleStartLevel.class).getStartLevel();
            if (b.getBundleId() != 0 && level <= LAST_LEVEL && b.getState() != Bundle.ACTIVE
                    && b.getHeaders().get("Fragment-Host") == null) {
                broken.add(b.getSymbolicName());
            }
        }
        return broken;
    }

    private static void install(BundleContext context, Path folder, int level) throws IOException, BundleException {
        if (!Files.isDirectory(folder)) {
            return;
        }
        List<Path> jars = new ArrayList<>();
        try (DirectoryStream<Path> stream = Files.newDirectoryStream(folder, "*.jar")) {
            stream.forEach(jars::add);
        }
        jars.sort(null);
        for (Path jar : jars) {
            Bundle bundle = context.installBundle(jar.toUri().toString());
            bundle.adapt(BundleStartLevel.class).setStartLevel(level);
            if (bundle.getHeaders().get("Fragment-Host") == null) {
                bundle.start();
            }
        }
    }

    /** The distribution's home: the folder above {@code bin/}, where the launcher jar lives. */
    static Path home() throws URISyntaxException {
        String override = System.getProperty("peridot.home");
        if (override != null) {
            return Path.of(override).toAbsolutePath();
        }
        Path jar = Path.of(PeridotLauncher.class.getProtectionDomain().getCodeSource().getLocation().toURI());
        return jar.getParent().getParent();
    }

    static Map<String, String> parse(String[] args) throws UsageException {
        Map<String, String> options = new HashMap<>();
        for (int i = 0; i < args.length; i++) {
            String a = args[i];
            switch (a) {
                case "-h", "--help" -> options.put("help", "");
                case "-c", "--batch", "--await", "--deploy", "--cache", "--etc" -> {
                    if (i + 1 >= args.length) {
                        throw new UsageException(a + " needs a value");
                    }
                    options.put(a.equals("-c") ? "c" : a.substring(2), args[++i]);
                }
                default -> throw new UsageException("unknown option " + a);
            }
        }
        return options;
    }

    /** A command-line mistake. */
    static final class UsageException extends Exception {
        UsageException(String message) {
            super(message);
        }
    }
}
