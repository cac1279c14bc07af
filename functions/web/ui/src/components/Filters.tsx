// Filters that live in the address: changing one navigates to the filtered view.
import type { ComponentChildren } from "preact";
import { useEffect, useState } from "preact/hooks";
import { navigate } from "../navigation";
import { withParams, type Route } from "../route";

export function FilterBar(props: { children: ComponentChildren; label: string }) {
  return (
    <div class="filters" role="group" aria-label={props.label}>
      {props.children}
    </div>
  );
}

export function SelectFilter(props: {
  route: Route;
  name: string;
  label: string;
  options: [string, string][];
}) {
  const id = `filter-${props.name}`;
  return (
    <span class="filter">
      <label for={id}>{props.label}</label>
      <select
        id={id}
        value={props.route.params[props.name] ?? ""}
        onChange={(e) => navigate(withParams(props.route, { [props.name]: (e.target as HTMLSelectElement).value }))}
      >
        {props.options.map(([value, text]) => (
          <option key={value} value={value}>
            {text}
          </option>
        ))}
      </select>
    </span>
  );
}

/** A text filter, applied on Enter or when the field is left. */
export function TextFilter(props: { route: Route; name: string; label: string; placeholder?: string }) {
  const current = props.route.params[props.name] ?? "";
  const [value, setValue] = useState(current);
  // Back and forward change the address under the field.
  useEffect(() => setValue(current), [current]);
  const id = `filter-${props.name}`;
  const apply = () => {
    if (value.trim() !== current) navigate(withParams(props.route, { [props.name]: value.trim() }));
  };
  return (
    <form
      class="filter"
      role="search"
      onSubmit={(e) => {
        e.preventDefault();
        apply();
      }}
    >
      <label for={id}>{props.label}</label>
      <input
        id={id}
        type="search"
        value={value}
        placeholder={props.placeholder}
        onInput={(e) => setValue((e.target as HTMLInputElement).value)}
        onBlur={apply}
      />
    </form>
  );
}
