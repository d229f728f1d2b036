package main

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/sirupsen/logrus"

	"github.com/loomsdn/loom/config"
	"github.com/loomsdn/loom/controller"
)

// tlsFlags are the --openflow-tls-* flags; each overrides its key under
// openflow.tls in the config file.
type tlsFlags struct{ cert, key, ca string }

// openflowTLS builds the TLS of the ssl: OpenFlow listeners (nil when no
// listener is ssl:). Errors name the flag or the config key that set
// the file at fault.
func openflowTLS(of config.OpenFlow, fl tlsFlags, log *logrus.Logger) (*controller.ServerTLS, error) {
	type file struct{ path, name string }
	pick := func(flagVal, flagName, cfgVal, cfgName string) file {
		if flagVal != "" {
			return file{flagVal, flagName}
		}
		return file{cfgVal, cfgName}
	}
	files := map[string]file{
		"cert": pick(fl.cert, "--openflow-tls-cert", of.TLS.Cert, "openflow.tls.cert"),
		"key":  pick(fl.key, "--openflow-tls-key", of.TLS.Key, "openflow.tls.key"),
		"ca":   pick(fl.ca, "--openflow-tls-ca", of.TLS.CA, "openflow.tls.ca"),
	}
	noClientCerts := of.TLS.ClientCerts == "none"
	if !of.HasSSL() {
		if fl.cert != "" || fl.key != "" || fl.ca != "" {
			return nil, errors.New("--openflow-tls-cert/--openflow-tls-key/--openflow-tls-ca are set, but no OpenFlow listener is ssl:HOST:PORT")
		}
		return nil, nil
	}
	var ssl string
	for _, l := range of.Listen {
		if l = strings.TrimSpace(l); strings.HasPrefix(l, "ssl:") {
			ssl = l
			break
		}
	}
	for _, which := range []string{"cert", "key", "ca"} {
		f := files[which]
		if f.path == "" && (which != "ca" || !noClientCerts) {
			return nil, fmt.Errorf("OpenFlow listener %s needs its TLS %s: set %s (or %s in the config file)",
				ssl, map[string]string{"cert": "certificate", "key": "key", "ca": "CA"}[which],
				"--openflow-tls-"+which, "openflow.tls."+which)
		}
	}
	t, err := controller.NewServerTLS(controller.ServerTLSFiles{Cert: files["cert"].path, Key: files["key"].path,
		CA: files["ca"].path, NoClientCerts: noClientCerts})
	if err != nil {
		var fe *controller.TLSFileError
		if errors.As(err, &fe) {
			return nil, fmt.Errorf("%s: %s: %v", files[fe.Which].name, fe.Path, fe.Err)
		}
		return nil, err
	}
	logTLS(t, log, "OpenFlow TLS certificate loaded")
	if noClientCerts {
		log.Warn("openflow.tls.client_certs is none: switches connecting over ssl: are not authenticated")
	}
	return t, nil
}

func logTLS(t *controller.ServerTLS, log *logrus.Logger, msg string) {
	subject, serial, notAfter, cas := t.Certificate()
	e := log.WithFields(logrus.Fields{"subject": subject, "serial": serial, "not_after": notAfter.UTC().Format("2006-01-02T15:04:05Z"),
		"cas": cas, "client_certs_required": t.ClientCertsRequired()})
	e.Info(msg)
	switch left := time.Until(notAfter); {
	case left <= 0:
		e.Warn("the OpenFlow TLS certificate has expired: switches will refuse loomd; replace it and send SIGHUP")
	case left < 14*24*time.Hour:
		e.WithField("expires_in", left.Round(time.Hour)).Warn("the OpenFlow TLS certificate expires soon; replace it and send SIGHUP")
	}
}

// reloadTLS is the SIGHUP step for the ssl: listeners: the files are read
// again; a failure keeps the running certificate and CA pool, and says why.
func reloadTLS(t *controller.ServerTLS, log *logrus.Logger) func() {
	if t == nil {
		return func() {}
	}
	return func() {
		if err := t.Reload(); err != nil {
			log.WithError(err).Error("OpenFlow TLS reload failed; the previous certificate and CA stay in force")
			return
		}
		logTLS(t, log, "OpenFlow TLS certificate reloaded; new handshakes use it, sessions stay as they are")
	}
}
