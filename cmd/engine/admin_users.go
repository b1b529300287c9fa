package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/spf13/cobra"
	"golang.org/x/term"

	"comanda/accounts"
	"comanda/domain"
)

func init() { extraCommands = append(extraCommands, adminCommand) }

func adminCommand() *cobra.Command {
	admin := &cobra.Command{
		Use:   "admin",
		Short: "Manage administrator accounts",
	}
	admin.AddCommand(createAdminCommand())
	return admin
}

func createAdminCommand() *cobra.Command {
	var (
		email, name string
		fromStdin   bool
	)
	cmd := &cobra.Command{
		Use:   "create-admin --email EMAIL --name NAME",
		Short: "Create an admin account and print its id",
		Long: "Create an admin account and print its id. The password is read from standard " +
			"input: typed at a prompt that does not echo it, or piped in (the first line). " +
			"It must have 8 to 128 characters.",
		Example: "  printf '%s\\n' \"$ADMIN_PASSWORD\" | engine admin create-admin " +
			"--email ana@example.com --name Ana --password-stdin",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			password, err := readPassword(cmd.InOrStdin(), cmd.ErrOrStderr(), fromStdin)
			if err != nil {
				return err
			}
			if err := accounts.CheckPassword(password); err != nil {
				return explain(err)
			}
			return createAdmin(cmd.Context(), cmd.OutOrStdout(), email, name, password)
		},
	}
	cmd.Flags().StringVar(&email, "email", "", "email the admin signs in with (required)")
	cmd.Flags().StringVar(&name, "name", "", "the admin's name (required)")
	cmd.Flags().BoolVar(&fromStdin, "password-stdin", false,
		"read the password from standard input without prompting, even from a terminal")
	_ = cmd.MarkFlagRequired("email")
	_ = cmd.MarkFlagRequired("name")
	return cmd
}

// createAdmin opens the database, creates the account and prints its id.
func createAdmin(ctx context.Context, out io.Writer, email, name, password string) error {
	cfg, err := loadConfig()
	if err != nil {
		return err
	}
	db, err := openDatabase(ctx, cfg, newLogger(cfg))
	if err != nil {
		return err
	}
	defer db.Close(context.WithoutCancel(ctx))

	store := accounts.New(db.Pool, accounts.Config{
		Secret: []byte(cfg.JWTSecret), AccessTTL: cfg.AccessTokenTTL, RefreshTTL: cfg.RefreshTokenTTL,
	})
	acc, err := store.CreateUser(ctx, email, password, name, domain.RoleAdmin)
	if err != nil {
		return explain(err)
	}
	_, err = fmt.Fprintln(out, acc.ID)
	return err
}

// maxPasswordInput bounds what is read from standard input for a password.
const maxPasswordInput = 4096

// readPassword reads the password: at a prompt that does not echo it when
// standard input is a terminal and fromStdin is false, else the first line
// of standard input.
func readPassword(in io.Reader, prompt io.Writer, fromStdin bool) (string, error) {
	if f, ok := in.(*os.File); ok && !fromStdin && term.IsTerminal(int(f.Fd())) {
		return promptPassword(int(f.Fd()), prompt)
	}
	line, err := bufio.NewReader(io.LimitReader(in, maxPasswordInput)).ReadString('\n')
	if err != nil && !errors.Is(err, io.EOF) {
		return "", fmt.Errorf("read the password from standard input: %w", err)
	}
	line = strings.TrimRight(line, "\r\n")
	if line == "" {
		return "", errors.New("no password on standard input; pipe it in, or run the " +
			"command in a terminal to be prompted")
	}
	return line, nil
}

// promptPassword asks for the password twice on the terminal fd.
func promptPassword(fd int, prompt io.Writer) (string, error) {
	ask := func(label string) (string, error) {
		fmt.Fprint(prompt, label)
		b, err := term.ReadPassword(fd)
		fmt.Fprintln(prompt)
		if err != nil {
			return "", fmt.Errorf("read the password: %w", err)
		}
		return string(b), nil
	}
	first, err := ask("Password: ")
	if err != nil {
		return "", err
	}
	second, err := ask("Repeat the password: ")
	if err != nil {
		return "", err
	}
	if first != second {
		return "", errors.New("the two passwords differ")
	}
	return first, nil
}

// explain turns a validation error into one line per invalid field, for a
// terminal; other errors pass unchanged.
func explain(err error) error {
	var de *domain.Error
	if !errors.As(err, &de) {
		return err
	}
	if len(de.Fields) == 0 {
		return errors.New(de.Message)
	}
	lines := make([]string, 0, len(de.Fields))
	for _, f := range de.Fields {
		lines = append(lines, f.Field+" "+f.Message)
	}
	return errors.New(strings.Join(lines, "; "))
}
