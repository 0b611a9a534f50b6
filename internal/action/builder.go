package action

import (
	"net"
	"net/url"
	"os"
	"slices"
	"strings"

	"github.com/containerd/platforms"
)

// Builder is where the build runs: the Docker engine at DOCKER_HOST, or a
// standalone BuildKit daemon.
type Builder struct {
	// Address is "" for the Docker engine, else the BuildKit daemon's
	// (tcp://host:port or unix:///path).
	Address string
	// CA, Cert and Key are the mTLS material for a tcp:// daemon, as PEM
	// text (read from the file when the input gave a path). Key is a
	// secret: masked, never printed.
	CA, Cert, Key []byte
	// Platforms are the platforms to build for, normalized (linux/arm64);
	// none builds the builder's own.
	Platforms []string
}

// BuildKit reports whether the build runs on a standalone BuildKit.
func (b Builder) BuildKit() bool { return b.Address != "" }

// builder reads builder, buildkit-ca, buildkit-cert, buildkit-key and
// platforms.
func (p *parser) builder() error {
	b := &p.in.Builder
	addr := p.get("builder")
	if addr != "" && addr != "docker" {
		if err := checkBuildKitAddress(addr); err != nil {
			return err
		}
		b.Address = addr
	}
	tcp := strings.HasPrefix(b.Address, "tcp://")
	for _, f := range []struct {
		name string
		dst  *[]byte
	}{{"buildkit-ca", &b.CA}, {"buildkit-cert", &b.Cert}, {"buildkit-key", &b.Key}} {
		v := strings.TrimSpace(p.raw[f.name])
		if v == "" {
			continue
		}
		if !tcp {
			return inputErr(f.name, "is for a tcp:// BuildKit builder, and builder is %s: set builder to the daemon's tcp://host:port, or leave %s empty", builderName(b.Address), f.name)
		}
		pem, err := pemInput(f.name, v)
		if err != nil {
			return err
		}
		*f.dst = pem
	}
	if (b.Cert == nil) != (b.Key == nil) {
		return inputErr("buildkit-key", "buildkit-cert and buildkit-key go together: give both (the client certificate the daemon's CA signed, and its key), or neither")
	}
	if tcp && b.Cert == nil {
		p.in.Notices = append(p.in.Notices, "builder: no client certificate for "+b.Address+": the connection to the BuildKit daemon is not authenticated; give buildkit-ca, buildkit-cert and buildkit-key for mTLS")
	}
	return p.platforms()
}

// checkBuildKitAddress accepts tcp://host:port and unix:///path.
func checkBuildKitAddress(addr string) error {
	const what = "give docker (the engine at DOCKER_HOST), a BuildKit daemon's tcp://host:port, or unix:///path/to/buildkitd.sock"
	u, err := url.Parse(addr)
	if err != nil || strings.ContainsAny(addr, " \t\r\n") {
		return inputErr("builder", "%q is not an address: %s", ellipsize(addr), what)
	}
	switch u.Scheme {
	case "tcp":
		if _, port, err := net.SplitHostPort(u.Host); err != nil || port == "" || u.Path != "" {
			return inputErr("builder", "%q is not tcp://host:port: %s", ellipsize(addr), what)
		}
	case "unix":
		if u.Path == "" || u.Host != "" {
			return inputErr("builder", "%q is not unix:///path: %s", ellipsize(addr), what)
		}
	default:
		return inputErr("builder", "%q is neither docker nor a BuildKit address (docker-container:// and kube-pod:// builders are buildx's): %s", ellipsize(addr), what)
	}
	return nil
}

func builderName(addr string) string {
	if addr == "" {
		return "docker"
	}
	return addr
}

// pemInput is an input that holds PEM text, or the path of a file that
// does. Its value is never repeated in an error: a key is a secret.
func pemInput(name, v string) ([]byte, error) {
	if strings.Contains(v, "-----BEGIN ") {
		return []byte(v + "\n"), nil
	}
	if strings.ContainsAny(v, "\r\n") {
		return nil, inputErr(name, "is neither PEM text (-----BEGIN ...) nor a file's path: give the PEM file's path or its whole text")
	}
	b, err := os.ReadFile(v)
	if err != nil {
		return nil, inputErr(name, "%q is not a readable file: give the path of the PEM file, or its text", ellipsize(v))
	}
	if !strings.Contains(string(b), "-----BEGIN ") {
		return nil, inputErr(name, "%q holds no PEM block: give a PEM file (-----BEGIN ...)", ellipsize(v))
	}
	return b, nil
}

// platforms reads platforms: os/arch[/variant], one a line or comma
// separated, each once.
func (p *parser) platforms() error {
	b := &p.in.Builder
	for _, v := range splitList(p.raw["platforms"]) {
		pl, err := platforms.Parse(v)
		if err != nil || pl.OS == "" || pl.Architecture == "" || strings.ContainsAny(v, " \t") {
			return inputErr("platforms", "%q is not a platform: write os/arch, e.g. linux/amd64,linux/arm64", ellipsize(v))
		}
		norm := platforms.Format(pl)
		if slices.Contains(b.Platforms, norm) {
			return inputErr("platforms", "%s is given twice: list each platform once", norm)
		}
		b.Platforms = append(b.Platforms, norm)
	}
	// A merge builds nothing: its platforms are those the index must hold.
	if len(b.Platforms) > 1 && !b.BuildKit() && p.get("images") == "" {
		return inputErr("platforms", "%s: several platforms in one run need a BuildKit builder (builder: tcp://host:port or unix:///path); with the Docker engine, build each platform on its own runner and join them with ms-build merge", strings.Join(b.Platforms, ","))
	}
	return nil
}
