package httpapi

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"

	"github.com/labstack/echo/v4"

	"comanda/domain"
	"comanda/projections/catalog"
)

// ImageStore keeps product images as files under one directory, named by
// their content hash so a file is never overwritten in place.
type ImageStore struct {
	Dir      string
	MaxBytes int64
}

var imageExt = map[string]string{"image/jpeg": ".jpg", "image/png": ".png", "image/webp": ".webp"}

// save checks that data is a JPEG, PNG or WebP image by its content and
// writes it atomically; it returns the path relative to Dir.
func (s *ImageStore) save(productID string, data []byte) (string, string, error) {
	kind := http.DetectContentType(data)
	ext, ok := imageExt[kind]
	if !ok {
		return "", "", &domain.Error{Code: domain.CodeUnsupportedMedia,
			Message: "the file is not a JPEG, PNG or WebP image"}
	}
	sum := sha256.Sum256(data)
	rel := filepath.Join("products", productID, hex.EncodeToString(sum[:12])+ext)
	full := filepath.Join(s.Dir, rel)
	if err := os.MkdirAll(filepath.Dir(full), 0o750); err != nil {
		return "", "", fmt.Errorf("create image directory: %w", err)
	}
	tmp, err := os.CreateTemp(filepath.Dir(full), ".upload-*")
	if err != nil {
		return "", "", fmt.Errorf("create image file: %w", err)
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return "", "", fmt.Errorf("write image: %w", err)
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return "", "", fmt.Errorf("sync image: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return "", "", err
	}
	if err := os.Rename(tmp.Name(), full); err != nil {
		return "", "", fmt.Errorf("store image: %w", err)
	}
	return filepath.ToSlash(rel), kind, nil
}

func (h *catalogAPI) putImage(c echo.Context) error {
	limit := h.d.Images.MaxBytes
	body := http.MaxBytesReader(c.Response(), c.Request().Body, limit)
	data, err := io.ReadAll(body)
	var maxErr *http.MaxBytesError
	if errors.As(err, &maxErr) {
		return &domain.Error{Code: domain.CodeTooLarge,
			Message: fmt.Sprintf("the image is larger than %d bytes", limit)}
	}
	if err != nil {
		return err
	}
	if len(data) == 0 {
		return domain.Invalid(domain.FieldError{Field: "body", Message: "send the image as the request body"})
	}
	return h.productCommand(c, "set_product_image",
		func(p *domain.Product, b *domain.Business, a domain.Actor) ([]domain.Event, error) {
			if !a.ActsFor(b.ID, b.OwnerID) {
				return nil, domain.Errorf(domain.CodeForbidden,
					"only the business's owner, its staff or an admin may change its products")
			}
			rel, kind, err := h.d.Images.save(p.ID, data)
			if err != nil {
				return nil, err
			}
			ev, err := p.SetImage(b, a, rel, kind, int64(len(data)))
			if err != nil {
				return nil, err
			}
			return []domain.Event{ev}, nil
		})
}

func (h *catalogAPI) getImage(c echo.Context) error {
	id, err := pathID(c, "id", "product")
	if err != nil {
		return err
	}
	p, err := h.d.Reader.Product(c.Request().Context(), id)
	if errors.Is(err, catalog.ErrNotFound) || (err == nil && p.ImagePath == "") {
		return domain.Errorf(domain.CodeNotFound, "the product has no image")
	}
	if err != nil {
		return err
	}
	full := filepath.Join(h.d.Images.Dir, filepath.FromSlash(p.ImagePath))
	if !strings.HasPrefix(full, filepath.Clean(h.d.Images.Dir)+string(filepath.Separator)) {
		return fmt.Errorf("BUG: image path %q leaves the uploads directory", p.ImagePath)
	}
	data, err := os.ReadFile(full)
	if errors.Is(err, os.ErrNotExist) {
		return domain.Errorf(domain.CodeNotFound, "the product's image file is missing")
	}
	if err != nil {
		return err
	}
	c.Response().Header().Set("Cache-Control", "public, max-age=86400")
	return c.Stream(http.StatusOK, p.ImageType, bytes.NewReader(data))
}
