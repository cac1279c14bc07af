// The shell: the token, the header with its navigation, and the view the address names.
import { createContext } from "preact";
import { useContext, useMemo, useState } from "preact/hooks";
import { apiClient, type Api } from "./api/client";
import { adoptToken, keepToken, signOut } from "./auth";
import { Link } from "./components/Link";
import { navigate, useRoute } from "./navigation";
import { FailurePage } from "./pages/Failure";
import { InsightsPage } from "./pages/Insights";
import { RunPage } from "./pages/Run";
import { RunsPage } from "./pages/Runs";
import { TestPage } from "./pages/Test";
import { UploadsPage } from "./pages/Uploads";
import type { Route } from "./route";

const Session = createContext<{ api: Api; token: string } | null>(null);

function useSession(): { api: Api; token: string } {
  const session = useContext(Session);
  if (!session) throw new Error("used outside a signed-in page");
  return session;
}

/** The API client of the signed-in tab. */
export function useApi(): Api {
  return useSession().api;
}

/** The signed-in tab's token, for the requests the client does not make (downloads). */
export function useToken(): string {
  return useSession().token;
}

export function App() {
  const [token, setToken] = useState<string | null>(() => adoptToken());
  const route = useRoute();
  const session = useMemo(() => (token ? { api: apiClient(token), token } : null), [token]);
  const leave = () => {
    signOut();
    setToken(null);
    navigate("/signin");
  };
  if (!session || route.page === "signin") {
    return <SignIn signedIn={session !== null} onToken={(t) => (keepToken(t), setToken(t), navigate("/"))} onSignOut={leave} />;
  }
  return (
    <Session.Provider value={session}>
      <Header route={route} onSignOut={leave} />
      <main id="main" tabIndex={-1}>
        <View route={route} />
      </main>
    </Session.Provider>
  );
}

function Header(props: { route: Route; onSignOut: () => void }) {
  const page = props.route.page;
  const tab = (to: Route, label: string, active: boolean) => (
    <Link to={to} class="tab" aria-current={active ? "page" : undefined}>
      {label}
    </Link>
  );
  return (
    <header class="top">
      <a class="skip" href="#main">
        Skip to content
      </a>
      <Link to={{ page: "runs", params: {} }} class="brand">
        Verdict
      </Link>
      <nav aria-label="Sections">
        {tab({ page: "runs", params: {} }, "Runs", page === "runs" || page === "run")}
        {tab({ page: "insights", params: {} }, "Insights", page === "insights" || page === "test" || page === "failure")}
        {tab({ page: "uploads", params: {} }, "Uploads", page === "uploads")}
      </nav>
      <button type="button" class="link-button" onClick={props.onSignOut}>
        Sign out
      </button>
    </header>
  );
}

function View(props: { route: Route }) {
  const route = props.route;
  switch (route.page) {
    case "runs":
      return <RunsPage route={route} />;
    case "run":
      return <RunPage key={route.run} route={route} />;
    case "test":
      return <TestPage key={route.test} route={route} />;
    case "failure":
      return <FailurePage key={route.fingerprint} fingerprint={route.fingerprint} route={route} />;
    case "insights":
      return <InsightsPage route={route} />;
    case "uploads":
      return <UploadsPage route={route} />;
    case "signin":
      return null;
    case "missing":
      return (
        <div class="failed" role="alert">
          <h1>No such page</h1>
          <p>
            Nothing lives at <code>{route.path}</code>. <Link to={{ page: "runs", params: {} }}>See the runs</Link>.
          </p>
        </div>
      );
  }
}

function SignIn(props: { signedIn: boolean; onToken: (token: string) => void; onSignOut: () => void }) {
  const [value, setValue] = useState("");
  return (
    <main id="main" class="signin">
      <h1>Verdict</h1>
      {props.signedIn ? (
        <>
          <p>You are signed in in this tab.</p>
          <p>
            <a href="/">Go to the runs</a> or{" "}
            <button type="button" class="link-button" onClick={props.onSignOut}>
              sign out
            </button>
            .
          </p>
        </>
      ) : (
        <>
          <p>
            Open the dashboard link that <code>verdict admin token create --scope read</code> or <code>make dev</code>{" "}
            printed, or paste a read token. It stays in this tab only.
          </p>
          <form
            onSubmit={(event) => {
              event.preventDefault();
              if (value.trim()) props.onToken(value);
            }}
          >
            <label for="token">Read token</label>
            <input
              id="token"
              type="password"
              autocomplete="off"
              spellcheck={false}
              value={value}
              onInput={(e) => setValue((e.target as HTMLInputElement).value)}
              placeholder="vdt_…"
            />
            <button type="submit">Sign in</button>
          </form>
        </>
      )}
    </main>
  );
}
