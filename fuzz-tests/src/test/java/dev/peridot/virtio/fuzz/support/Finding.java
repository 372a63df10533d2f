package dev.peridot.virtio.fuzz.support;

/**
 * What a fuzz target reports when the oracle is violated. An {@link AssertionError}, so Jazzer
 * records the input as a crash and JUnit fails the regression test that replays it.
 */
public class Finding extends AssertionError {

    public Finding(String message) {
        super(message);
    }

    public Finding(String message, Throwable cause) {
        super(message, cause);
    }

    /** Attaches the decoded input to a finding (as a suppressed note), so its report says what the driver did. */
    public static Finding describe(Finding f, Object input) {
        f.addSuppressed(new InputDescription(String.valueOf(input)));
        return f;
    }

    /** The decoded input of a finding, shown with its stack trace. */
    public static final class InputDescription extends Throwable {
        InputDescription(String input) {
            super("input: " + input, null, false, false);
        }
    }

    /** An operation took longer than the bound; confirmed by replaying the input once more before it is reported. */
    public static final class TooSlow extends Finding {
        public TooSlow(String message) {
            super(message);
        }
    }
}
