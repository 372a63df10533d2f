package dev.peridot.virtio.shell.internal;

import java.util.Objects;

/**
 * What a command returns: text for people (Gogo prints a CharSequence as it is) and data for
 * scripts ({@code $r = virtio:list; $r data}).
 *
 * @param <T> the data type
 */
public final class Report<T> implements CharSequence {

    private final String text;
    private final T data;

    Report(String text, T data) {
        this.text = Objects.requireNonNull(text);
        this.data = data;
    }

    /** The data behind the text. */
    public T data() {
        return data;
    }

    @Override
    public int length() {
        return text.length();
    }

    @Override
    public char charAt(int index) {
        return text.charAt(index);
    }

    @Override
    public CharSequence subSequence(int start, int end) {
        return text.subSequence(start, end);
    }

    @Override
    public String toString() {
        return text;
    }
}
