import type { ComponentChildren } from "preact";

/** A table that scrolls sideways in its own box on a narrow screen; the box takes the focus,
 * so it scrolls from the keyboard too. */
export function TableBox(props: { label: string; children: ComponentChildren }) {
  return (
    <div class="table-scroll" tabIndex={0} role="region" aria-label={props.label}>
      {props.children}
    </div>
  );
}
