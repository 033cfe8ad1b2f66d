package main

import (
	"context"
	"fmt"
	"io"
	"os"

	"github.com/spf13/cobra"

	"gatehouse/httpsig"
)

func (a *app) newKeysSigningKeyCmd() *cobra.Command {
	c := &cobra.Command{
		Use:   "signing-key",
		Short: "Register or remove a key's signing keys (RFC 9421)",
		Long: `A key's signing keys are the public keys (Ed25519 or ECDSA P-256, as JWK) whose
RFC 9421 signatures its writes to routes with "signed: true" must carry.`,
		Example: `  gatehouse keys signing-key add "Integration A" --jwk integration-a.pub.jwk --config gatehouse.yaml
  gatehouse keys signing-key remove "Integration A" kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k --config gatehouse.yaml`,
	}
	c.AddCommand(a.newSigningKeyAddCmd(), a.newSigningKeyRemoveCmd())
	return c
}

func (a *app) newSigningKeyAddCmd() *cobra.Command {
	c := &cobra.Command{
		Use:   "add NAME|ID --jwk FILE",
		Short: "Register a public key and print its keyid",
		Long: `Register the public key in FILE (a JWK; "-" reads standard input) on the key,
and print its keyid, the JWK thumbprint (RFC 7638) that signatures name.
A private JWK is refused. Audited.`,
		Example: `  gatehouse keys signing-key add "Integration A" --jwk integration-a.pub.jwk --config gatehouse.yaml`,
		Args:    oneRef,
	}
	cfgPath := configFlag(c)
	file := c.Flags().String("jwk", "", "the public key, a JWK in `FILE` (- for standard input)")
	c.RunE = func(c *cobra.Command, args []string) error {
		return a.signingKeyAdd(c.Context(), *cfgPath, args[0], *file)
	}
	return c
}

func (a *app) signingKeyAdd(ctx context.Context, cfgPath, ref, file string) error {
	if file == "" {
		return fmt.Errorf("%w: keys signing-key add needs --jwk FILE", errUsage)
	}
	jwk, err := a.readJWK(file)
	if err != nil {
		return err
	}
	t, k, err := a.openKey(ctx, cfgPath, ref)
	if err != nil {
		return err
	}
	defer t.Close()
	_, keyID, err := t.svc.AddSigningKey(ctx, k.ID, jwk, cliCaller())
	if err != nil {
		return appError(err)
	}
	fmt.Fprintln(a.stdout, keyID)
	return nil
}

// readJWK reads a JWK from file, or from standard input for "-", bounded.
func (a *app) readJWK(file string) ([]byte, error) {
	r := a.stdin
	if file != "-" {
		f, err := os.Open(file)
		if err != nil {
			return nil, fmt.Errorf("--jwk: %w", err)
		}
		defer f.Close()
		r = f
	}
	b, err := io.ReadAll(io.LimitReader(r, httpsig.MaxJWKBytes+1))
	if err != nil {
		return nil, fmt.Errorf("--jwk: %w", err)
	}
	if len(b) > httpsig.MaxJWKBytes {
		return nil, fmt.Errorf("--jwk: %s is larger than %d bytes; a JWK is a few hundred", file, httpsig.MaxJWKBytes)
	}
	return b, nil
}

func (a *app) newSigningKeyRemoveCmd() *cobra.Command {
	c := &cobra.Command{
		Use:   "remove NAME|ID KEYID",
		Short: "Remove a signing key",
		Long: `Remove the signing key KEYID from the key: signatures by it are refused from
then on, by a running server within a second. Audited.`,
		Example: `  gatehouse keys signing-key remove "Integration A" kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k --config gatehouse.yaml`,
		Args: func(c *cobra.Command, args []string) error {
			if len(args) != 2 {
				return fmt.Errorf("%w: %sneeds a NAME or ID and a KEYID (got %d arguments)", errUsage, commandPrefix(c), len(args))
			}
			return nil
		},
	}
	cfgPath := configFlag(c)
	c.RunE = func(c *cobra.Command, args []string) error {
		t, k, err := a.openKey(c.Context(), *cfgPath, args[0])
		if err != nil {
			return err
		}
		defer t.Close()
		if _, err := t.svc.RemoveSigningKey(c.Context(), k.ID, args[1], cliCaller()); err != nil {
			return appError(err)
		}
		return nil
	}
	return c
}
