// What a first-time visitor reads on the login screen of a server that does not let people register in-band
// (Parley's default, `registration.mode: closed`): how to get an account, and for the person running the server,
// the command that creates one and the flag that opens registration.
export function ClosedRegistrationHelp() {
  return (
    <section class="first-run" aria-labelledby="first-run-title">
      <h2 id="first-run-title">No account yet?</h2>
      <p>This server does not let people sign up from the app: ask the person who runs it to create an account for you.</p>
      <details>
        <summary>I run this server</summary>
        <p>Create an account in a terminal, in the folder where Parley is installed:</p>
        <pre>
          <code>npx parley user add alice</code>
        </pre>
        <p>Or let people sign up here: start the server with</p>
        <pre>
          <code>npm start -- --registration open</code>
        </pre>
        <p>
          or set <code>registration.mode: open</code> in its configuration file.
        </p>
      </details>
    </section>
  );
}
